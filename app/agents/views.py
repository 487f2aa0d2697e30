"""Reading a conversation whole, for staff: everything, with its event history, notes and
ratings (the customer's view is `app.conversations.views.customer_view`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.agents.service import list_notes
from app.auth.models import User
from app.conversations.models import Conversation, CsatRating, Event, Message
from app.conversations.service import StoredMessage
from app.conversations.views import conversation_row, verified_customer_view

_conversations = Conversation.__table__
_users = User.__table__
_events = Event.__table__
_messages = Message.__table__
_ratings = CsatRating.__table__

HIDDEN_COLUMNS = (
    "agent_name",
    "assigned_agent_id",
    "customer_id",
    "customer_email",
    "customer_name",
)
STAFF_VIEW_MESSAGES = 200
STAFF_VIEW_EVENTS = 500


def staff_view(conn: Connection, *, conversation_id: str) -> dict[str, Any]:
    """Everything about the conversation, for staff."""
    row = conversation_row(conn, conversation_id)
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
        **{k: row[k] for k in row if k not in HIDDEN_COLUMNS},
        "customer": verified_customer_view(row),
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


def list_conversations(
    conn: Connection, *, staff_id: int, status: str, limit: int
) -> list[dict[str, Any]]:
    """Conversations in `status`, most recently active first: the staff member's own when
    assigned or resolved, everyone's when queued or with the bot."""
    query = select(
        _conversations.c.id,
        _conversations.c.status,
        _conversations.c.last_seq,
        _conversations.c.handoff_reason,
        _conversations.c.assigned_at,
        _conversations.c.updated_at,
    ).where(_conversations.c.status == status)
    if status in ("assigned", "resolved"):
        query = query.where(_conversations.c.assigned_agent_id == staff_id)
    rows = conn.execute(query.order_by(_conversations.c.updated_at.desc()).limit(limit))
    return [dict(r) for r in rows.mappings()]
