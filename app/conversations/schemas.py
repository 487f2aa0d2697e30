"""Request and response bodies of the customer-facing conversation API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, EmailStr, Field, field_validator

from app.text_rules import check_text

CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9._:@+\-]{1,128}$"
SIGNATURE_PATTERN = r"^[0-9a-fA-F]{64}$"


class CustomerIn(BaseModel):
    """Who the host site says its signed-in visitor is; trusted only with a good `signature`."""

    model_config = {"extra": "forbid"}

    id: str = Field(
        pattern=CUSTOMER_ID_PATTERN,
        description="The site's customer id (1-128 letters, digits or . _ : @ + -).",
    )
    email: EmailStr | None = Field(None, description="The customer's email on record.")
    name: str | None = Field(None, min_length=1, max_length=200, description="Display name.")
    signature: str | None = Field(
        None,
        pattern=SIGNATURE_PATTERN,
        description="Hex HMAC-SHA256 of `id` with SWITCHBOARD_IDENTITY__SECRET, computed on the "
        "site's server; without it the visitor stays anonymous.",
    )

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be blank")
        if not value.isprintable():
            raise ValueError("must not contain control characters")
        return value


class ConversationOpen(BaseModel):
    """The optional body of `POST /api/v1/conversations`: a signed-in visitor's identity."""

    model_config = {"extra": "forbid"}

    customer: CustomerIn | None = None


class CustomerRead(BaseModel):
    """The verified customer of a conversation (only a correctly signed identity is kept)."""

    id: str
    email: str | None = None
    name: str | None = None
    verified: bool = True


class ConversationCreated(BaseModel):
    """A new conversation and the secret that opens it (shown once)."""

    id: str
    token: str
    status: str
    created_at: datetime
    customer: CustomerRead | None = Field(
        None, description="The verified customer; null for an anonymous visitor."
    )


class MessageIn(BaseModel):
    """A customer message. `client_id` makes a retried post idempotent."""

    model_config = {"extra": "forbid"}

    text: str = Field(description="What the customer wrote (not blank).")
    client_id: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="A client-chosen id; posting the same id again returns the stored result.",
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty or blank")
        return check_text(value)

    @field_validator("client_id")
    @classmethod
    def _valid_id(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value)


class MessageRead(BaseModel):
    """A stored message."""

    seq: int
    author: str
    text: str
    created_at: datetime
    client_id: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class Source(BaseModel):
    """An article a reply drew on."""

    article_id: int
    title: str
    score: float


class Suggestion(BaseModel):
    """A topic offered when the bot is unsure."""

    article_id: int
    title: str


class QueueInfo(BaseModel):
    """What a handed-off customer is told about the wait."""

    position: int | None = Field(None, description="Place in the queue (1 = next).")
    agents_online: int
    expected_wait_seconds: int | None = Field(
        None, description="Median recent wait times the place, shared among agents online."
    )
    follow_up: bool = Field(
        description="Nobody is available: the customer is asked for an email to follow up."
    )
    open_now: bool = Field(description="Whether it is within business hours.")
    assigned_to: str | None = Field(None, description="The agent auto-assigned, if any.")


class Reply(BaseModel):
    """The bot's reply to a customer message."""

    seq: int
    text: str
    kind: str = Field(description="answer | intent | ask | clarify | handoff")
    reason: str = Field(description="The policy's machine-readable reason.")
    intent: str | None = Field(None, description="The intent that ran or is being filled.")
    handoff_reason: str | None = Field(
        None,
        description="explicit_request | low_confidence | negative_sentiment | "
        "repeated_fallback | intent_requires_human | action_failed | action_outcome_unknown "
        "(when handing off)",
    )
    confidence: float
    sources: list[Source]
    suggestions: list[Suggestion] = Field(default_factory=list)
    queue: QueueInfo | None = Field(
        None, description="On a handoff: the customer's place and expected wait, or follow_up."
    )
    created_at: datetime


class TurnResult(BaseModel):
    """The stored customer message, the bot's reply (null while a person owns the
    conversation) and the signals that led to it: `{"intent": {"name", "confidence"},
    "kb_top_score", "sentiment", "sentiment_trend"}`."""

    message: MessageRead
    reply: Reply | None
    signals: dict[str, Any]


class MessagePage(BaseModel):
    """Messages after a sequence number, in order."""

    messages: list[MessageRead]
    last_seq: int
    has_more: bool


class CsatIn(BaseModel):
    """A customer's rating of a resolved conversation."""

    model_config = {"extra": "forbid"}

    score: int = Field(ge=1, le=5, description="1 (poor) to 5 (excellent).")
    comment: str | None = Field(None, max_length=2000)

    @field_validator("comment")
    @classmethod
    def _valid_comment(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value)


class CsatRead(BaseModel):
    """A stored rating."""

    conversation_id: str
    resolution: int
    score: int
    comment: str | None
    created_at: datetime


class ContactIn(BaseModel):
    """The customer's email for a follow-up."""

    model_config = {"extra": "forbid"}

    email: EmailStr


class CustomerConversationView(BaseModel):
    """A conversation as its customer sees it."""

    id: str
    status: str
    last_seq: int
    created_at: datetime
    updated_at: datetime
    agent: dict[str, str] | None = Field(
        None, description="The assigned agent's display name: {'name': ...}."
    )
    follow_up: bool = Field(False, description="We asked for an email to follow up.")
    contact_email_saved: bool = False
    customer_name: str | None = Field(
        None, description="The verified customer's name, as the host site signed them in."
    )
    csat_pending: bool = Field(False, description="Resolved and not yet rated.")
