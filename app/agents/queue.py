"""The queue of handed-off conversations, in priority order.

Priority (higher is served first), in minutes of waiting:

    priority = waiting_minutes + SENTIMENT_WEIGHT * max(0, -sentiment) + REASON_BONUS[reason]

so a customer at sentiment -1.0 is served as if they had waited 10 minutes longer, and a failed
business system or a frustrated customer jumps 5 minutes ahead of a plain low-confidence
handoff. Ties go to the earlier handoff. Documented in docs/agents.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from app.agents.availability import online_agent_ids
from app.config import AgentSettings
from app.conversations.models import Conversation, ConversationStatus, Message
from app.conversations.service import StoredMessage
from app.db import utcnow

_conversations = Conversation.__table__
_messages = Message.__table__

SENTIMENT_WEIGHT = 10.0
REASON_BONUS = {
    "negative_sentiment": 5.0,
    "action_failed": 5.0,
    "action_outcome_unknown": 5.0,
    "explicit_request": 3.0,
    "repeated_fallback": 3.0,
    "intent_requires_human": 3.0,
    "low_confidence": 0.0,
}
LAST_MESSAGES = 6
QUEUE_LIMIT = 500


def priority(*, waiting_seconds: float, sentiment: float | None, reason: str | None) -> float:
    """The queue priority of a conversation (see the module docstring)."""
    mood = SENTIMENT_WEIGHT * max(0.0, -(sentiment or 0.0))
    return round(waiting_seconds / 60.0 + mood + REASON_BONUS.get(reason or "", 0.0), 3)


@dataclass(frozen=True)
class QueueEntry:
    """A queued conversation with its packet and latest messages."""

    conversation_id: str
    queued_at: datetime
    waiting_seconds: float
    priority: float
    last_seq: int
    handoff: dict[str, Any]
    sentiment: float | None
    follow_up: bool
    contact_email: str | None
    last_messages: list[StoredMessage]


def list_queue(conn: Connection, *, now: datetime) -> list[QueueEntry]:
    """Queued conversations, highest priority first (at most QUEUE_LIMIT)."""
    rows = conn.execute(
        select(
            _conversations.c.id,
            _conversations.c.queued_at,
            _conversations.c.created_at,
            _conversations.c.last_seq,
            _conversations.c.handoff,
            _conversations.c.handoff_reason,
            _conversations.c.follow_up,
            _conversations.c.contact_email,
        )
        .where(_conversations.c.status == ConversationStatus.QUEUED.value)
        .order_by(_conversations.c.queued_at)
        .limit(QUEUE_LIMIT)
    ).all()
    if not rows:
        return []
    recent: dict[str, list[StoredMessage]] = {}
    message_rows = conn.execute(
        select(_messages)
        .select_from(
            _messages.join(
                _conversations,
                and_(
                    _conversations.c.id == _messages.c.conversation_id,
                    _messages.c.seq > _conversations.c.last_seq - LAST_MESSAGES,
                ),
            )
        )
        .where(_conversations.c.status == ConversationStatus.QUEUED.value)
        .order_by(_messages.c.conversation_id, _messages.c.seq)
    ).mappings()
    for m in message_rows:
        recent.setdefault(m["conversation_id"], []).append(StoredMessage.from_row(m))
    entries = []
    for row in rows:
        queued_at = row.queued_at or row.created_at
        waiting = max(0.0, (now - queued_at).total_seconds())
        packet = dict(row.handoff or {})
        sentiment = (packet.get("signals") or {}).get("sentiment")
        entries.append(
            QueueEntry(
                conversation_id=row.id,
                queued_at=queued_at,
                waiting_seconds=round(waiting, 1),
                priority=priority(
                    waiting_seconds=waiting, sentiment=sentiment, reason=row.handoff_reason
                ),
                last_seq=row.last_seq,
                handoff=packet,
                sentiment=sentiment,
                follow_up=bool(row.follow_up),
                contact_email=row.contact_email,
                last_messages=recent.get(row.id, []),
            )
        )
    entries.sort(key=lambda e: (-e.priority, e.queued_at))
    return entries


def queue_size(conn: Connection) -> int:
    """How many conversations are queued: exact at any size (the list stops at QUEUE_LIMIT)."""
    return int(
        conn.execute(
            select(func.count()).where(_conversations.c.status == ConversationStatus.QUEUED.value)
        ).scalar_one()
    )


@dataclass(frozen=True)
class QueueState:
    """The queue as it stands: its first QUEUE_LIMIT entries, how many wait in all, and how
    many agents are online to take them."""

    entries: list[QueueEntry]
    total: int
    agents_online: int


def queue_and_online(conn: Connection, *, settings: AgentSettings) -> QueueState:
    """The queue as it stands now (one read: the list and the count agree)."""
    now = utcnow()
    return QueueState(
        list_queue(conn, now=now),
        queue_size(conn),
        len(online_agent_ids(conn, now=now, settings=settings)),
    )
