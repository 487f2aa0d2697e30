"""Persistence of conversations, messages and events. Functions flush; the caller commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.models import Conversation, Event, Message
from app.db import utcnow
from app.errors import Forbidden, NotFound
from app.security import hash_token, new_token, token_matches


async def create(session: AsyncSession) -> tuple[Conversation, str]:
    """A new bot-owned conversation and its bearer token (returned once, stored hashed)."""
    token = new_token()
    now = utcnow()
    conversation = Conversation(
        id=str(uuid.uuid4()), token_hash=hash_token(token), created_at=now, updated_at=now
    )
    session.add(conversation)
    session.add(Event(conversation_id=conversation.id, type="conversation.created", data={}))
    await session.flush()
    return conversation, token


async def get(session: AsyncSession, *, conversation_id: str) -> Conversation | None:
    """The conversation with this id, if any."""
    return await session.get(Conversation, conversation_id)


async def get_for_customer_or_raise(
    session: AsyncSession, *, conversation_id: str, token: str
) -> Conversation:
    """The conversation if `token` opens it: 404 when unknown, 403 when the token is wrong."""
    conversation = await get(session, conversation_id=conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    if not token_matches(token, conversation.token_hash):
        raise Forbidden("this token does not open this conversation")
    return conversation


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
class TurnContext:
    """What a customer turn needs to know before it runs, read in one query."""

    token_hash: str
    status: str
    last_seq: int
    replay_seq: int | None  # seq of the message already posted with this client_id
    replay_text: str | None


# The hot path of every turn uses pre-built Core statements: one read, one write transaction.
_TURN_CONTEXT = (
    select(
        _conversations.c.token_hash,
        _conversations.c.status,
        _conversations.c.last_seq,
        _messages.c.seq.label("replay_seq"),
        _messages.c.text.label("replay_text"),
    )
    .select_from(
        _conversations.outerjoin(
            _messages,
            and_(
                _messages.c.conversation_id == _conversations.c.id,
                _messages.c.client_id == bindparam("client_id"),
            ),
        )
    )
    .where(_conversations.c.id == bindparam("conversation_id"))
)
_RESERVE_SEQS = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"))
    .values(
        last_seq=_conversations.c.last_seq + bindparam("count"),
        updated_at=bindparam("now", type_=_conversations.c.updated_at.type),
    )
    .returning(_conversations.c.last_seq)
)
_INSERT_MESSAGES = insert(_messages)
_INSERT_EVENT = insert(_events)
_POST_AND_REPLY = select(_messages).where(
    _messages.c.conversation_id == bindparam("conversation_id"),
    or_(_messages.c.seq == bindparam("seq"), _messages.c.reply_to_seq == bindparam("seq")),
)


async def get_turn_context_or_raise(
    session: AsyncSession, *, conversation_id: str, token: str, client_id: str | None
) -> TurnContext:
    """The conversation's state and any earlier post of `client_id`; 404/403 as for customers."""
    row = (
        await session.execute(
            _TURN_CONTEXT, {"conversation_id": conversation_id, "client_id": client_id}
        )
    ).first()
    if row is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    if not token_matches(token, row.token_hash):
        raise Forbidden("this token does not open this conversation")
    return TurnContext(row.token_hash, row.status, row.last_seq, row.replay_seq, row.replay_text)


async def find_client_post(
    session: AsyncSession, *, conversation_id: str, client_id: str
) -> tuple[StoredMessage, StoredMessage | None] | None:
    """The message posted with `client_id` and the bot's reply to it, if it was posted."""
    seq = await session.scalar(
        select(_messages.c.seq).where(
            _messages.c.conversation_id == conversation_id, _messages.c.client_id == client_id
        )
    )
    if seq is None:
        return None
    return await get_post_and_reply(session, conversation_id=conversation_id, seq=seq)


async def get_post_and_reply(
    session: AsyncSession, *, conversation_id: str, seq: int
) -> tuple[StoredMessage, StoredMessage | None]:
    """Message `seq` and the bot's reply to it (None when the bot did not reply)."""
    rows = await session.execute(_POST_AND_REPLY, {"conversation_id": conversation_id, "seq": seq})
    found = [StoredMessage.from_row(r) for r in rows.mappings()]
    post = next(m for m in found if m.seq == seq)
    reply = next((m for m in found if m.reply_to_seq == seq), None)
    return post, reply


async def reserve_seqs(session: AsyncSession, *, conversation_id: str, count: int) -> int:
    """Reserve `count` consecutive sequence numbers; returns the first. One atomic UPDATE."""
    last = (
        await session.execute(
            _RESERVE_SEQS, {"conversation_id": conversation_id, "count": count, "now": utcnow()}
        )
    ).scalar()
    if last is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    return int(last) - count + 1


async def insert_messages(
    session: AsyncSession, *, conversation_id: str, messages: list[StoredMessage]
) -> None:
    """Write messages (one statement)."""
    await session.execute(
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


async def insert_event(
    session: AsyncSession, *, conversation_id: str | None, type: str, data: dict[str, Any]
) -> None:
    """Append an event."""
    await session.execute(
        _INSERT_EVENT,
        {"conversation_id": conversation_id, "type": type, "data": data, "created_at": utcnow()},
    )


async def list_after(
    session: AsyncSession, *, conversation_id: str, after: int, limit: int
) -> list[Message]:
    """Up to `limit` messages with seq > `after`, in order."""
    rows = await session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.seq > after)
        .order_by(Message.seq)
        .limit(limit)
    )
    return list(rows.all())
