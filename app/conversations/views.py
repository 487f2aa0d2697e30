"""What customers see: the public view of a stored message (also what live streams carry) and
of their conversation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.auth.models import User
from app.conversations.models import Conversation, ConversationStatus, CsatRating
from app.conversations.schemas import MessageRead
from app.conversations.service import StoredMessage
from app.errors import ConversationNotFound
from app.realtime.broker import Event

# "agent_id" is deliberately absent: customers see an agent's display name only.
PUBLIC_META_KEYS = (
    "kind",
    "reason",
    "intent",
    "handoff_reason",
    "confidence",
    "sources",
    "suggestions",
    "queue",
    "agent_name",
    "resolution",
)


def message_read(message: StoredMessage) -> MessageRead:
    """The public view of a stored message (internal signals, and the client ids of anyone but
    the customer, stay out)."""
    stored_meta = message.meta or {}
    return MessageRead(
        seq=message.seq,
        author=message.author,
        text=message.text,
        created_at=message.created_at,
        client_id=message.client_id if message.author == "customer" else None,
        meta={k: stored_meta[k] for k in PUBLIC_META_KEYS if k in stored_meta},
    )


def message_event(conversation_id: str, message: StoredMessage) -> Event:
    """A stored message (customer, bot, agent or system), as its customer sees it."""
    return {
        "type": "message",
        "conversation_id": conversation_id,
        "seq": message.seq,
        "message": message_read(message).model_dump(mode="json"),
    }


STAFF_HIDDEN_META_KEYS = ("policy_input",)


def message_staff_read(message: StoredMessage) -> MessageRead:
    """The staff view of a stored message: every signal the bot recorded (the policy's raw
    inputs, kept for replay, stay out)."""
    meta = {k: v for k, v in (message.meta or {}).items() if k not in STAFF_HIDDEN_META_KEYS}
    return MessageRead(
        seq=message.seq,
        author=message.author,
        text=message.text,
        created_at=message.created_at,
        client_id=message.client_id,
        meta=meta,
    )


_conversations = Conversation.__table__
_users = User.__table__
_ratings = CsatRating.__table__


def conversation_row(conn: Connection, conversation_id: str) -> Any:
    """The conversation's row (without its token digest) with the assigned agent's name; 404
    when it does not exist."""
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
        raise ConversationNotFound(conversation_id)
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


def verified_customer_view(row: Any) -> dict[str, Any] | None:
    """The conversation's verified customer as staff see it (None: an anonymous visitor)."""
    if row["customer_id"] is None:
        return None
    return {
        "id": row["customer_id"],
        "email": row["customer_email"],
        "name": row["customer_name"],
        "verified": True,
    }


def customer_view(conn: Connection, *, conversation_id: str) -> dict[str, Any]:
    """What the customer may see of their conversation."""
    row = conversation_row(conn, conversation_id)
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
        "customer_name": row["customer_name"],
        "csat_pending": resolved and not _is_rated(conn, conversation_id, row["resolutions"]),
    }
