"""The customer turn: persist the message, understand it, decide, reply — atomically.

1. Start encoding the text at once (micro-batched, on the encoder thread) while the database
   checks the token and whether this `client_id` was already answered.
2. Search the knowledge index with the vector and let the policy decide.
3. In ONE short write transaction reserve two sequence numbers and store the customer message,
   the bot reply and the event. A failure anywhere before the commit stores nothing; a
   concurrent retry of the same `client_id` loses the unique constraint and gets the stored
   result instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.conversations import service as conversation_service
from app.conversations.models import Author, Message
from app.conversations.replies import render
from app.conversations.schemas import MessageIn, MessageRead, Reply, TurnResult
from app.conversations.service import StoredMessage
from app.db import utcnow
from app.errors import Conflict, ServiceUnavailable
from app.kb.knowledge import KbHit
from app.nlp.embedder import EmbedderError
from app.policy.decision import Candidate, ConversationState, Decision, Signals, decide
from app.runtime import Runtime

PUBLIC_META_KEYS = ("kind", "reason", "confidence", "sources", "suggestions")


@dataclass(frozen=True)
class TurnOutcome:
    """The result of a turn and whether it was replayed from an earlier identical post."""

    result: TurnResult
    replayed: bool


def message_read(message: Message | StoredMessage) -> MessageRead:
    """The public view of a stored message (internal signals stay out)."""
    stored_meta = message.meta or {}
    return MessageRead(
        seq=message.seq,
        author=message.author,
        text=message.text,
        created_at=message.created_at,
        client_id=message.client_id,
        meta={k: stored_meta[k] for k in PUBLIC_META_KEYS if k in stored_meta},
    )


def _result(customer: StoredMessage, bot: StoredMessage | None) -> TurnResult:
    if bot is None:
        return TurnResult(message=message_read(customer), reply=None, signals={})
    meta = bot.meta or {}
    reply = Reply(
        seq=bot.seq,
        text=bot.text,
        kind=meta.get("kind", ""),
        reason=meta.get("reason", ""),
        confidence=meta.get("confidence", 0.0),
        sources=meta.get("sources", []),
        suggestions=meta.get("suggestions", []),
        created_at=bot.created_at,
    )
    return TurnResult(
        message=message_read(customer), reply=reply, signals=dict(meta.get("signals", {}))
    )


def _check_same_text(client_id: str, stored_text: str | None, text: str) -> None:
    if stored_text != text:
        raise Conflict(
            f"client_id {client_id!r} was already used for a different message; "
            "use a new client_id for a new message"
        )


async def _replay(
    runtime: Runtime, *, conversation_id: str, client_id: str, text: str
) -> TurnResult:
    """The stored result of an earlier post with this client_id."""
    async with runtime.db.read_sessions() as session:
        found = await conversation_service.find_client_post(
            session, conversation_id=conversation_id, client_id=client_id
        )
    if found is None:  # the competing post rolled back: nothing to replay
        raise Conflict("a concurrent post with this client_id failed; retry it")
    _check_same_text(client_id, found[0].text, text)
    return _result(*found)


def _signals_payload(hits: list[KbHit], decision: Decision) -> dict[str, Any]:
    return {
        "retrieval": {
            "top_score": round(hits[0].score, 4) if hits else 0.0,
            "matched": hits[0].matched if hits else None,
            "candidates": [{"article_id": h.article.id, "score": round(h.score, 4)} for h in hits],
        },
        "decision": {
            "kind": decision.kind.value,
            "reason": decision.reason.value,
            **decision.diagnostics,
        },
    }


async def handle_customer_message(
    runtime: Runtime, *, conversation_id: str, token: str, message_in: MessageIn
) -> TurnOutcome:
    """Store a customer message and the bot's reply; replay the stored result for a retry."""
    settings = runtime.settings
    client_id = message_in.client_id
    encoding = asyncio.ensure_future(runtime.batcher.encode_one(message_in.text))
    try:
        async with runtime.db.read_sessions() as session:
            context = await conversation_service.get_turn_context_or_raise(
                session, conversation_id=conversation_id, token=token, client_id=client_id
            )
        if client_id is not None and context.replay_seq is not None:
            _check_same_text(client_id, context.replay_text, message_in.text)
            return TurnOutcome(
                await _replay(
                    runtime,
                    conversation_id=conversation_id,
                    client_id=client_id,
                    text=message_in.text,
                ),
                replayed=True,
            )
        vector = await encoding
    except EmbedderError as exc:
        raise ServiceUnavailable("the language model failed on this message; retry") from exc
    finally:
        if not encoding.done():
            encoding.cancel()

    hits = runtime.knowledge.search(vector, limit=max(settings.retrieval.top_k, 10))
    signals = Signals(tuple(Candidate(h.article.id, h.score) for h in hits))
    state = ConversationState(bot_turns=context.last_seq // 2)
    decision = decide(signals, state, settings.policy)
    rendered = render(decision, hits, top_k=settings.retrieval.top_k)
    signals_payload = _signals_payload(hits, decision)
    bot_meta: dict[str, Any] = {
        "kind": decision.kind.value,
        "reason": decision.reason.value,
        "confidence": round(hits[0].score, 4) if hits else 0.0,
        "sources": [s.model_dump() for s in rendered.sources],
        "suggestions": [s.model_dump() for s in rendered.suggestions],
        "signals": signals_payload,
    }

    try:
        async with runtime.db.sessions() as session:
            first = await conversation_service.reserve_seqs(
                session, conversation_id=conversation_id, count=2
            )
            now = utcnow()
            customer = StoredMessage(
                seq=first,
                author=Author.CUSTOMER,
                text=message_in.text,
                created_at=now,
                client_id=client_id,
            )
            bot = StoredMessage(
                seq=first + 1,
                author=Author.BOT,
                text=rendered.text,
                created_at=now,
                reply_to_seq=first,
                meta=bot_meta,
            )
            await conversation_service.insert_messages(
                session, conversation_id=conversation_id, messages=[customer, bot]
            )
            await conversation_service.insert_event(
                session,
                conversation_id=conversation_id,
                type=f"bot.{decision.kind.value}",
                data={"seq": bot.seq, **signals_payload["decision"]},
            )
            await session.commit()
    except IntegrityError:
        if client_id is None:
            raise
        result = await _replay(
            runtime, conversation_id=conversation_id, client_id=client_id, text=message_in.text
        )
        return TurnOutcome(result, replayed=True)
    return TurnOutcome(_result(customer, bot), replayed=False)
