"""Request and response bodies of the agents' API (queue, conversation work, canned responses,
presence) and of the customer's rating and follow-up contact."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.conversations.schemas import CsatRead, CustomerRead, MessageRead
from app.text_rules import check_text


def _clean_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank")
    return check_text(value)


class AgentRef(BaseModel):
    """A staff member as a conversation names them."""

    id: int
    name: str


class HandoffPacket(BaseModel):
    """Why the bot handed off and what it had tried."""

    reason: str | None = None
    seq: int | None = Field(None, description="The bot message that handed off.")
    at: datetime | None = None
    question: str | None = Field(None, description="The customer message that led to it.")
    intent: str | None = None
    slots: dict[str, str] = Field(default_factory=dict)
    signals: dict[str, Any] = Field(
        default_factory=dict, description="intent, kb_top_score, sentiment, sentiment_trend"
    )
    articles: list[dict[str, Any]] = Field(
        default_factory=list, description="The closest articles: article_id, title, score."
    )
    bot_turns: int = 0
    misses: int = 0
    summary: str = ""


class QueueItem(BaseModel):
    """A conversation waiting for a person, with everything needed to pick it."""

    conversation_id: str
    priority: float = Field(description="Higher is served first; see docs/agents.md.")
    waiting_seconds: float
    queued_at: datetime
    last_seq: int
    handoff: HandoffPacket
    sentiment: float | None = Field(None, description="The customer's sentiment at handoff.")
    last_messages: list[MessageRead] = Field(description="The latest messages, oldest first.")
    follow_up: bool = Field(description="Nobody was available: the customer was asked for email.")
    contact_email: str | None = None


class QueuePage(BaseModel):
    """The queue, highest priority first."""

    items: list[QueueItem] = Field(description="The first 500 by waiting time, by priority.")
    total: int = Field(description="How many conversations wait in all (exact at any size).")
    agents_online: int


class AgentMessageIn(BaseModel):
    """A reply from the agent who owns the conversation."""

    model_config = {"extra": "forbid"}

    text: str = Field(max_length=8000, description="What the agent writes (not blank).")
    client_id: str | None = Field(
        None, min_length=1, max_length=100, description="Makes a retried post idempotent."
    )

    _text = field_validator("text")(_clean_text)


class NoteIn(BaseModel):
    """An internal note; the customer never sees it."""

    model_config = {"extra": "forbid"}

    text: str = Field(max_length=8000)

    _text = field_validator("text")(_clean_text)


class NoteRead(BaseModel):
    """A stored internal note."""

    id: int
    text: str
    author: AgentRef
    created_at: datetime


class TransferIn(BaseModel):
    """Whom to hand an assigned conversation to."""

    model_config = {"extra": "forbid"}

    agent_id: int = Field(ge=1, le=2**63 - 1, description="The id of an active staff member.")


class ActionResult(BaseModel):
    """The conversation after a claim, resolve, hand-back or transfer."""

    conversation_id: str
    status: str
    agent: AgentRef | None
    seq: int = Field(description="The system message that announced the change.")


class AgentMessageResult(BaseModel):
    """A stored agent message."""

    conversation_id: str
    message: MessageRead


class AssistArticle(BaseModel):
    """A knowledge-base article that may answer the customer's latest message."""

    article_id: int
    title: str
    score: float
    body: str = Field(description="The article text, ready to insert into a reply.")


class AssistIntent(BaseModel):
    """The intent the classifier sees in the latest message."""

    name: str
    confidence: float
    description: str | None = None


class AssistResult(BaseModel):
    """Suggestions for replying to the customer's latest message."""

    conversation_id: str
    message: MessageRead | None = Field(description="The latest customer message (None yet).")
    articles: list[AssistArticle]
    intent: AssistIntent | None
    sentiment: float | None


class CannedIn(BaseModel):
    """A canned response (admins manage them)."""

    model_config = {"extra": "forbid"}

    shortcut: str = Field(
        min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$", description="e.g. refund"
    )
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(max_length=8000)

    _text = field_validator("text", "title")(_clean_text)


class CannedRead(CannedIn):
    """A stored canned response."""

    model_config = {"extra": "ignore"}

    id: int
    created_at: datetime
    updated_at: datetime


class PresenceIn(BaseModel):
    """The availability an agent chooses."""

    model_config = {"extra": "forbid"}

    status: Literal["online", "away", "offline"]


class AgentPresence(BaseModel):
    """An agent's availability and load."""

    id: int
    name: str
    role: str
    presence: str = Field(description="What they chose: online | away | offline.")
    online: bool = Field(description="Chose online and seen within the presence timeout.")
    last_seen_at: datetime | None
    open_conversations: int


class RatingRead(CsatRead):
    """A stored rating as staff see it: with the agent it is credited to."""

    agent_id: int | None


class EventRead(BaseModel):
    """One entry of a conversation's event history."""

    id: int
    type: str
    data: dict[str, Any]
    created_at: datetime


class StaffConversationView(BaseModel):
    """Everything about a conversation, for staff."""

    id: str
    status: str
    last_seq: int
    created_at: datetime
    updated_at: datetime
    agent: AgentRef | None
    handoff_reason: str | None
    handoff: HandoffPacket | None
    queued_at: datetime | None
    assigned_at: datetime | None
    resolved_at: datetime | None
    resolutions: int
    follow_up: bool
    contact_email: str | None
    customer: CustomerRead | None = Field(
        None,
        description="The verified customer (signed by the host site): id, email, name; null "
        "for an anonymous visitor, whose claims are never shown as verified.",
    )
    dialog: dict[str, Any]
    messages: list[MessageRead] = Field(description="The latest 200 messages, oldest first.")
    notes: list[NoteRead]
    events: list[EventRead]
    ratings: list[RatingRead]
