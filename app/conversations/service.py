"""Persistence of conversations, messages and events. Functions flush; the caller commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
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


async def get_by_client_id(
    session: AsyncSession, *, conversation_id: str, client_id: str
) -> Message | None:
    """The customer message posted earlier with this client id, if any."""
    return await session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id, Message.client_id == client_id
        )
    )


async def get_reply_to(session: AsyncSession, *, conversation_id: str, seq: int) -> Message | None:
    """The bot message that answered message `seq`, if any."""
    return await session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id, Message.reply_to_seq == seq
        )
    )


async def reserve_seqs(session: AsyncSession, *, conversation_id: str, count: int) -> int:
    """Reserve `count` consecutive sequence numbers; returns the first. One atomic UPDATE."""
    last = await session.scalar(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(last_seq=Conversation.last_seq + count, updated_at=utcnow())
        .returning(Conversation.last_seq)
    )
    if last is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    return int(last) - count + 1


def add_message(
    session: AsyncSession,
    *,
    conversation_id: str,
    seq: int,
    author: str,
    text: str,
    client_id: str | None = None,
    reply_to_seq: int | None = None,
    meta: dict[str, Any] | None = None,
) -> Message:
    """Stage a message (written at the next flush)."""
    message = Message(
        conversation_id=conversation_id,
        seq=seq,
        author=author,
        text=text,
        client_id=client_id,
        reply_to_seq=reply_to_seq,
        meta=meta or {},
        created_at=utcnow(),
    )
    session.add(message)
    return message


def add_event(
    session: AsyncSession, *, conversation_id: str | None, type: str, data: dict[str, Any]
) -> Event:
    """Stage an event (written at the next flush)."""
    event = Event(conversation_id=conversation_id, type=type, data=data, created_at=utcnow())
    session.add(event)
    return event


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
