"""Agents' presence: the availability each chose, whether they count as online now (chose
`online` and were seen within `presence_timeout_seconds`, as decided in
app/agents/availability.py), and how many conversations each has open.

An open agent stream is a heartbeat (`mark_seen` every `heartbeat_seconds`); closing a user's
last stream in a process clears `last_seen_at` (`mark_gone`), so they stop counting as online at
once rather than when the timeout runs out. A stream in another process restores it at its next
heartbeat, which then announces the user online again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from app.agents.availability import is_online, open_conversations
from app.auth import service as auth_service
from app.auth.models import User
from app.config import AgentSettings
from app.conversations.models import Conversation
from app.db import utcnow
from app.errors import UserNotFound
from app.realtime.broker import Event
from app.realtime.events import presence_event

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
        raise UserNotFound(user_id)


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


HEARTBEAT_SECONDS = 20.0


def heartbeat_seconds(settings: AgentSettings) -> float:
    """How often a stream marks its user seen: well within the presence timeout."""
    return min(HEARTBEAT_SECONDS, settings.presence_timeout_seconds / 3)


@dataclass(frozen=True)
class Sighting:
    """A user's presence after a heartbeat, and whether they counted as online before it."""

    user_id: int
    name: str
    presence: str
    online: bool
    was_online: bool

    def event(self) -> Event:
        """The presence event announcing this state."""
        return presence_event(
            id=self.user_id, name=self.name, presence=self.presence, online=self.online
        )


def mark_seen(conn: Connection, *, user_id: int, settings: AgentSettings) -> Sighting | None:
    """Record that the user was seen now (None if the user no longer exists)."""
    row = conn.execute(
        select(_users.c.name, _users.c.presence, _users.c.last_seen_at).where(
            _users.c.id == user_id
        )
    ).first()
    if row is None:
        return None
    now = utcnow()
    was_online = is_online(row.presence, row.last_seen_at, now=now, settings=settings)
    conn.execute(update(_users).where(_users.c.id == user_id).values(last_seen_at=now))
    online = is_online(row.presence, now, now=now, settings=settings)
    return Sighting(user_id, row.name, row.presence, online, was_online)


def heartbeat(conn: Connection, *, token: str, settings: AgentSettings) -> Sighting | None:
    """Check the stream's token again and mark its user seen; None once the token expired,
    was revoked, or the account was deactivated."""
    user = auth_service.user_for_token(conn, token=token)
    if user is None:
        return None
    return mark_seen(conn, user_id=user.id, settings=settings)


def mark_gone(conn: Connection, *, user_id: int) -> Sighting | None:
    """The user closed their last stream here: clear `last_seen_at` (offline until seen
    again)."""
    row = conn.execute(
        update(_users)
        .where(_users.c.id == user_id)
        .values(last_seen_at=None)
        .returning(_users.c.name, _users.c.presence)
    ).first()
    if row is None:
        return None
    return Sighting(user_id, row.name, row.presence, online=False, was_online=True)
