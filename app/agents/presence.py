"""Agents' presence: the availability each chose, whether they count as online now (chose
`online` and were seen within the timeout), and how many conversations each has open."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from app.agents.availability import is_online, open_conversations
from app.auth.models import User
from app.config import AgentSettings
from app.conversations.models import Conversation
from app.db import utcnow
from app.errors import NotFound

_users = User.__table__
_conversations = Conversation.__table__


def set_presence(conn: Connection, *, user_id: int, status: str) -> None:
    """Record the availability a staff member chose (and that they were seen now)."""
    result = conn.execute(
        update(_users)
        .where(_users.c.id == user_id)
        .values(presence=status, last_seen_at=utcnow(), updated_at=utcnow())
    )
    if result.rowcount == 0:
        raise NotFound(f"user {user_id} does not exist")


def list_presence(conn: Connection, *, settings: AgentSettings) -> list[dict[str, Any]]:
    """Every active staff member with their presence, online flag and open conversations."""
    now = utcnow()
    open_count = open_conversations()
    rows = conn.execute(
        select(
            _users.c.id,
            _users.c.name,
            _users.c.role,
            _users.c.presence,
            _users.c.last_seen_at,
            open_count.label("open_conversations"),
        )
        .where(_users.c.active.is_(True))
        .order_by(_users.c.name, _users.c.id)
    ).mappings()
    return [
        {
            **dict(r),
            "online": is_online(r["presence"], r["last_seen_at"], now=now, settings=settings),
        }
        for r in rows
    ]
