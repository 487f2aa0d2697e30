"""Reading a conversation whole: the staff view (everything, with its event history, notes and
ratings) and the customer's view (status, the agent's display name, whether a rating is due)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.agents.models import CsatRating
from app.agents.service import list_notes
from app.auth.models import User
from app.conversations.models import Conversation, ConversationStatus, Event, Message
from app.conversations.service import StoredMessage
from app.errors import NotFound

_conversations = Conversation.__table__
_users = User.__table__
_events = Event.__table__
_messages = Message.__table__
_ratings = CsatRating.__table__

STAFF_VIEW_MESSAGES = 200
STAFF_VIEW_EVENTS = 500


def _conversation_row(conn: Connection, conversation_id: str) -> Any:
    row = (
        conn.execute(
            select(
                *[c for c in _conversations.c if c.name != "token_hash"],
                _users.c.name.label("agent_name"),
            )
            .select_from(
                _conversations.outerjoin(_users, _users.c.id == _conversations.c.assigned_agent_id)
            )
            .where(_conversations.c.id == conversation_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    return row


def _is_rated(conn: Connection, conversation_id: str, resolution: int) -> bool:
    return (
        conn.execute(
            select(_ratings.c.id).where(
                _ratings.c.conversation_id == conversation_id,
                _ratings.c.resolution == resolution,
            )
        ).first()
        is not None
    )


def customer_view(conn: Connection, *, conversation_id: str) -> dict[str, Any]:
    """What the customer may see of their conversation."""
    row = _conversation_row(conn, conversation_id)
    showing_agent = row["status"] in (ConversationStatus.ASSIGNED, ConversationStatus.RESOLVED)
    resolved = row["status"] == ConversationStatus.RESOLVED
    return {
        "id": row["id"],
        "status": row["status"],
        "last_seq": row["last_seq"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "agent": {"name": row["agent_name"]} if showing_agent and row["agent_name"] else None,
        "follow_up": row["follow_up"],
        "contact_email_saved": row["contact_email"] is not None,
        "csat_pending": resolved and not _is_rated(conn, conversation_id, row["resolutions"]),
    }


def staff_view(conn: Connection, *, conversation_id: str) -> dict[str, Any]:
    """Everything about the conversation, for staff."""
    row = _conversation_row(conn, conversation_id)
    messages = conn.execute(
        select(_messages)
        .where(_messages.c.conversation_id == conversation_id)
        .order_by(_messages.c.seq.desc())
        .limit(STAFF_VIEW_MESSAGES)
    ).mappings()
    events = conn.execute(
        select(_events)
        .where(_events.c.conversation_id == conversation_id)
        .order_by(_events.c.id)
        .limit(STAFF_VIEW_EVENTS)
    ).mappings()
    ratings = conn.execute(
        select(_ratings)
        .where(_ratings.c.conversation_id == conversation_id)
        .order_by(_ratings.c.id)
    ).mappings()
    return {
        **{k: row[k] for k in row if k not in ("agent_name", "assigned_agent_id")},
        "agent": {"id": row["assigned_agent_id"], "name": row["agent_name"]}
        if row["assigned_agent_id"] is not None
        else None,
        "handoff": row["handoff"] or None,
        "messages": sorted((StoredMessage.from_row(m) for m in messages), key=lambda m: m.seq),
        "events": [dict(e) for e in events],
        "notes": [
            {
                "id": n["id"],
                "text": n["text"],
                "author": {"id": n["author_id"], "name": n["author_name"]},
                "created_at": n["created_at"],
            }
            for n in list_notes(conn, conversation_id=conversation_id)
        ],
        "ratings": [dict(r) for r in ratings],
    }
