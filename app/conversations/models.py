"""Tables of conversations, their messages and the event log of every state change."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, utcnow


class ConversationStatus(enum.StrEnum):
    """Who owns a conversation: the bot, the queue, an agent, or nobody (resolved)."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


class Author(enum.StrEnum):
    """Who wrote a message."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class EventType(enum.StrEnum):
    """The kinds of rows in a conversation's event history: every transition and every bot
    decision is one (analytics are queries over them). Writers and readers both use these."""

    CREATED = "conversation.created"
    HANDOFF = "conversation.handoff"
    ASSIGNED = "conversation.assigned"
    TRANSFERRED = "conversation.transferred"
    HANDBACK = "conversation.handback"
    REQUEUED = "conversation.requeued"
    RESOLVED = "conversation.resolved"
    REOPENED = "conversation.reopened"
    CONTACT = "conversation.contact"
    AGENT_MESSAGE = "agent.message"
    CSAT = "csat.submitted"
    # One per bot reply, by decision kind (`EventType.bot(kind)`).
    BOT_ANSWER = "bot.answer"
    BOT_RUN_INTENT = "bot.run_intent"
    BOT_ASK_SLOT = "bot.ask_slot"
    BOT_CONFIRM = "bot.confirm"
    BOT_CANCEL_INTENT = "bot.cancel_intent"
    BOT_CLARIFY = "bot.clarify"
    BOT_HANDOFF = "bot.handoff"
    BOT_SMALLTALK = "bot.smalltalk"

    @classmethod
    def bot(cls, decision_kind: str) -> EventType:
        """The event of a bot reply whose decision was `decision_kind` (e.g. "answer")."""
        return cls(f"bot.{decision_kind}")


BOT_EVENTS = tuple(e for e in EventType if e.value.startswith("bot."))


class Conversation(Base):
    """A chat between one customer and the service; `last_seq` numbers its messages."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ConversationStatus.BOT, index=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # The dialogue state the policy reads (see app/conversations/dialog.py).
    dialog: Mapped[dict[str, Any]] = mapped_column(default=dict)
    handoff_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    # The handoff packet agents see: reason, signals, intent and slots, articles tried, summary.
    handoff: Mapped[dict[str, Any]] = mapped_column(default=dict)
    assigned_agent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), default=None, index=True
    )
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    # How many times it was resolved: a rating belongs to one resolution.
    resolutions: Mapped[int] = mapped_column(Integer, default=0)
    # Set when nobody could take a handoff: the customer is asked for an email to follow up.
    follow_up: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_email: Mapped[str | None] = mapped_column(String(254), default=None)
    # The verified customer (app/identity.py): set only when the host site's signature held.
    customer_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    customer_email: Mapped[str | None] = mapped_column(String(254), default=None)
    customer_name: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    """One message; `seq` is gapless within its conversation, `client_id` makes an author's posts
    idempotent."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        # Customers and agents choose client ids independently: unique per author.
        UniqueConstraint(
            "conversation_id", "author", "client_id", name="uq_messages_conversation_client"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(100), default=None)
    reply_to_seq: Mapped[int | None] = mapped_column(Integer, default=None)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """An append-only record of a state change; analytics are queries over this table."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_type_created", "type", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CsatRating(Base):
    """A customer's rating of one resolution of a conversation (at most one per resolution)."""

    __tablename__ = "csat_ratings"
    __table_args__ = (
        UniqueConstraint("conversation_id", "resolution", name="uq_csat_conversation_resolution"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    resolution: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    agent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
