"""Persistence of conversations, messages and events; the caller owns the transaction.

Every function takes a synchronous `Connection` and is run inside one transaction by
`Database.run` / `Database.read` (a worker thread on SQLite, `run_sync` on PostgreSQL), with
pre-built Core statements on the hot path.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from app.conversations.models import (
    Author,
    Conversation,
    ConversationStatus,
    Event,
    EventType,
    Message,
)
from app.db import utcnow
from app.errors import ConversationNotFound
from app.identity import VerifiedCustomer
from app.security import hash_token, new_token

_conversations = Conversation.__table__
_messages = Message.__table__
_events = Event.__table__


@dataclass(frozen=True)
class StoredMessage:
    """A message as stored (a plain value, detached from any session)."""

    seq: int
    author: str
    text: str
    created_at: datetime
    client_id: str | None = None
    reply_to_seq: int | None = None
    meta: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> StoredMessage:
        """Build from a `messages` row."""
        return cls(
            seq=row["seq"],
            author=row["author"],
            text=row["text"],
            created_at=row["created_at"],
            client_id=row["client_id"],
            reply_to_seq=row["reply_to_seq"],
            meta=row["meta"] or {},
        )


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation's public state."""

    id: str
    status: str
    last_seq: int
    created_at: datetime
    updated_at: datetime


# The hot path of every turn uses pre-built Core statements.
_TOKEN_ACCESS = select(_conversations.c.token_hash, _conversations.c.updated_at).where(
    _conversations.c.id == bindparam("conversation_id")
)
SILENT_BOT_STATUSES = (ConversationStatus.QUEUED.value, ConversationStatus.ASSIGNED.value)
_RESERVE_TURN = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"))
    .values(
        last_seq=_conversations.c.last_seq
        + case((_conversations.c.status.in_(SILENT_BOT_STATUSES), 1), else_=2),
        updated_at=bindparam("now", type_=_conversations.c.updated_at.type),
    )
    .returning(
        _conversations.c.last_seq,
        _conversations.c.status,
        _conversations.c.dialog,
        _conversations.c.assigned_agent_id,
        _conversations.c.follow_up,
        _conversations.c.customer_id,
        _conversations.c.customer_email,
        _conversations.c.customer_name,
    )
)
_SAVE_DIALOG = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"))
    .values(dialog=bindparam("dialog", type_=_conversations.c.dialog.type))
)
_INSERT_MESSAGES = insert(_messages)
_INSERT_EVENT = insert(_events)
_POST_AND_REPLY = select(_messages).where(
    _messages.c.conversation_id == bindparam("conversation_id"),
    or_(_messages.c.seq == bindparam("seq"), _messages.c.reply_to_seq == bindparam("seq")),
)


CLIENT_ID_CONSTRAINT = "uq_messages_conversation_client"


def is_duplicate_client_id(exc: IntegrityError) -> bool:
    """Whether `exc` is the unique constraint on (conversation_id, author, client_id)."""
    text = str(exc.orig)
    return CLIENT_ID_CONSTRAINT in text or (
        "messages.conversation_id, messages.author, messages.client_id" in text
    )


def get_token_access(conn: Connection, *, conversation_id: str) -> tuple[str, datetime] | None:
    """The stored digest of the conversation's customer token and its last activity
    (`updated_at`); None: no such conversation."""
    row = conn.execute(_TOKEN_ACCESS, {"conversation_id": conversation_id}).first()
    return None if row is None else (str(row.token_hash), row.updated_at)


def find_client_post(
    conn: Connection,
    *,
    conversation_id: str,
    client_id: str,
    author: str = Author.CUSTOMER,
) -> tuple[StoredMessage, StoredMessage | None] | None:
    """The message `author` posted with `client_id` and the bot's reply to it, if it was
    posted."""
    seq = conn.execute(
        select(_messages.c.seq).where(
            _messages.c.conversation_id == conversation_id,
            _messages.c.author == author,
            _messages.c.client_id == client_id,
        )
    ).scalar()
    if seq is None:
        return None
    rows = conn.execute(_POST_AND_REPLY, {"conversation_id": conversation_id, "seq": seq})
    found = [StoredMessage.from_row(r) for r in rows.mappings()]
    post = next(m for m in found if m.seq == seq)
    reply = next((m for m in found if m.reply_to_seq == seq), None)
    return post, reply


@dataclass(frozen=True)
class Reservation:
    """Sequence numbers reserved for a turn, and the conversation's state when they were."""

    first_seq: int
    status: str
    dialog: dict[str, Any]
    assigned_agent_id: int | None = None
    follow_up: bool = False
    customer: VerifiedCustomer | None = None

    @property
    def bot_replies(self) -> bool:
        """Whether the bot answers (it stays silent while a person owns the conversation)."""
        return self.status not in SILENT_BOT_STATUSES


def reserve_turn(conn: Connection, *, conversation_id: str) -> Reservation:
    """Reserve the sequence numbers of a turn with one atomic UPDATE, which also locks the
    conversation for the rest of the transaction: two (message and reply) while the bot
    answers, one while a person owns the conversation."""
    row = conn.execute(_RESERVE_TURN, {"conversation_id": conversation_id, "now": utcnow()}).first()
    if row is None:
        raise ConversationNotFound(conversation_id)
    status = str(row.status)
    count = 1 if status in SILENT_BOT_STATUSES else 2
    return Reservation(
        int(row.last_seq) - count + 1,
        status,
        dict(row.dialog or {}),
        row.assigned_agent_id,
        bool(row.follow_up),
        stored_customer(row),
    )


def stored_customer(row: Any) -> VerifiedCustomer | None:
    """The verified customer of a conversation row (None: an anonymous visitor)."""
    if row.customer_id is None:
        return None
    return VerifiedCustomer(row.customer_id, row.customer_email, row.customer_name)


def take_seq(conn: Connection, *, conversation_id: str) -> int:
    """One more sequence number of a conversation already locked by this transaction."""
    return int(
        conn.execute(
            update(_conversations)
            .where(_conversations.c.id == conversation_id)
            .values(last_seq=_conversations.c.last_seq + 1)
            .returning(_conversations.c.last_seq)
        ).scalar_one()
    )


def reopen(conn: Connection, *, conversation_id: str) -> None:
    """A resolved conversation the customer writes to again goes back to the bot, with a
    fresh dialogue state (so nothing from before the resolution re-triggers a handoff)."""
    conn.execute(
        update(_conversations)
        .where(_conversations.c.id == conversation_id)
        .values(
            status=ConversationStatus.BOT,
            assigned_agent_id=None,
            handoff_reason=None,
            follow_up=False,
        )
    )
    insert_event(conn, conversation_id=conversation_id, type=EventType.REOPENED, data={})


def save_dialog(conn: Connection, *, conversation_id: str, dialog: dict[str, Any]) -> None:
    """Store the dialogue state."""
    conn.execute(_SAVE_DIALOG, {"conversation_id": conversation_id, "dialog": dialog})


def queue_handoff(
    conn: Connection,
    *,
    conversation_id: str,
    dialog: dict[str, Any],
    reason: str,
    packet: dict[str, Any],
    now: datetime,
) -> None:
    """Queue the conversation for a person, with its reason and the handoff packet."""
    conn.execute(
        update(_conversations)
        .where(_conversations.c.id == conversation_id)
        .values(
            dialog=dialog,
            status=ConversationStatus.QUEUED,
            handoff_reason=reason,
            handoff=packet,
            queued_at=now,
            assigned_agent_id=None,
            follow_up=False,
        )
    )


def set_follow_up(conn: Connection, *, conversation_id: str) -> None:
    """Mark that the customer was asked for an email because nobody could take the handoff."""
    conn.execute(
        update(_conversations).where(_conversations.c.id == conversation_id).values(follow_up=True)
    )


def insert_messages(
    conn: Connection, *, conversation_id: str, messages: list[StoredMessage]
) -> None:
    """Write messages (one statement)."""
    conn.execute(
        _INSERT_MESSAGES,
        [
            {
                "conversation_id": conversation_id,
                "seq": m.seq,
                "author": m.author,
                "text": m.text,
                "client_id": m.client_id,
                "reply_to_seq": m.reply_to_seq,
                "meta": m.meta or {},
                "created_at": m.created_at,
            }
            for m in messages
        ],
    )


def insert_event(
    conn: Connection, *, conversation_id: str | None, type: str, data: dict[str, Any]
) -> None:
    """Append an event."""
    conn.execute(
        _INSERT_EVENT,
        {"conversation_id": conversation_id, "type": type, "data": data, "created_at": utcnow()},
    )


def create(
    conn: Connection, *, customer: VerifiedCustomer | None = None
) -> tuple[ConversationSummary, str]:
    """A new bot-owned conversation and its bearer token (returned once, stored hashed), with
    its verified customer if the host site signed one."""
    token = new_token()
    now = utcnow()
    summary = ConversationSummary(
        id=str(uuid.uuid4()),
        status=ConversationStatus.BOT,
        last_seq=0,
        created_at=now,
        updated_at=now,
    )
    conn.execute(
        insert(_conversations),
        {
            "id": summary.id,
            "token_hash": hash_token(token),
            "status": summary.status,
            "last_seq": 0,
            "created_at": now,
            "updated_at": now,
            "customer_id": customer.id if customer else None,
            "customer_email": customer.email if customer else None,
            "customer_name": customer.name if customer else None,
        },
    )
    insert_event(
        conn,
        conversation_id=summary.id,
        type=EventType.CREATED,
        data={"verified_customer": customer is not None},
    )
    return summary, token


def get_summary(conn: Connection, *, conversation_id: str) -> ConversationSummary | None:
    """The conversation's public state, if it exists."""
    row = conn.execute(
        select(
            _conversations.c.id,
            _conversations.c.status,
            _conversations.c.last_seq,
            _conversations.c.created_at,
            _conversations.c.updated_at,
        ).where(_conversations.c.id == conversation_id)
    ).first()
    return ConversationSummary(*row) if row is not None else None


def list_after(
    conn: Connection, *, conversation_id: str, after: int, limit: int
) -> list[StoredMessage]:
    """Up to `limit` messages with seq > `after`, in order."""
    rows = conn.execute(
        select(_messages)
        .where(_messages.c.conversation_id == conversation_id, _messages.c.seq > after)
        .order_by(_messages.c.seq)
        .limit(limit)
    )
    return [StoredMessage.from_row(r) for r in rows.mappings()]


def system_message(seq: int, text: str, kind: str, now: datetime, **meta: Any) -> StoredMessage:
    """A message from the service itself (joins, transfers, resolution)."""
    return StoredMessage(
        seq=seq, author=Author.SYSTEM, text=text, created_at=now, meta={"kind": kind, **meta}
    )


def summary_and_messages(
    conn: Connection, *, conversation_id: str, after: int, limit: int
) -> tuple[ConversationSummary, list[StoredMessage]]:
    """The conversation's summary and up to `limit` messages after `after` (404 if it does not
    exist)."""
    conversation = get_summary(conn, conversation_id=conversation_id)
    if conversation is None:
        raise ConversationNotFound(conversation_id)
    messages = list_after(conn, conversation_id=conversation_id, after=after, limit=limit)
    return conversation, messages


def latest_customer_message(conn: Connection, *, conversation_id: str) -> StoredMessage | None:
    """The customer's latest message in the conversation (404 if it does not exist)."""
    if get_summary(conn, conversation_id=conversation_id) is None:
        raise ConversationNotFound(conversation_id)
    row = (
        conn.execute(
            select(_messages)
            .where(
                _messages.c.conversation_id == conversation_id,
                _messages.c.author == Author.CUSTOMER.value,
            )
            .order_by(_messages.c.seq.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return StoredMessage.from_row(row) if row is not None else None


def last_seq(conn: Connection, *, conversation_id: str) -> int | None:
    """The conversation's last sequence number (None: no such conversation)."""
    summary = get_summary(conn, conversation_id=conversation_id)
    return summary.last_seq if summary is not None else None
