"""The public view of stored messages: what customers (and live streams) see of a message."""

from __future__ import annotations

from app.conversations.schemas import MessageRead
from app.conversations.service import StoredMessage

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
