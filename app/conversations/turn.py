"""The customer turn: persist the message, understand it, decide, reply — atomically.

1. Check the customer's token (digest cached in process: no database round trip).
2. Encode the text (micro-batched, on the encoder thread) and search the knowledge index.
3. In ONE short transaction: reserve two sequence numbers (the UPDATE locks the conversation
   and returns its state), let the policy decide on that fresh state, and store the customer
   message, the bot reply and the event. A failure anywhere before the commit stores nothing;
   a retry of a stored `client_id` fails the unique constraint, rolls back and gets the stored
   result instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.conversations import service as conversation_service
from app.conversations.models import Author
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
    """The result of a turn, whether it was replayed from an earlier identical post, and where
    its time went (milliseconds per stage, sent as a `Server-Timing` header)."""

    result: TurnResult
    replayed: bool
    timings: dict[str, float] = field(default_factory=dict)


def message_read(message: StoredMessage) -> MessageRead:
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


class _Clock:
    """Measures consecutive stages of a turn."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = (now - self._last) * 1000.0
        self._last = now


def _check_same_text(client_id: str, stored_text: str | None, text: str) -> None:
    if stored_text != text:
        raise Conflict(
            f"client_id {client_id!r} was already used for a different message; "
            "use a new client_id for a new message"
        )


async def _stored_result(
    runtime: Runtime, *, conversation_id: str, client_id: str, text: str
) -> TurnResult | None:
    """The stored result of an earlier post with this client_id, if there is one (409 if it
    was posted with another text)."""
    found = await runtime.db.read(
        conversation_service.find_client_post, conversation_id=conversation_id, client_id=client_id
    )
    if found is None:
        return None
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


@dataclass(frozen=True)
class Understanding:
    """What the model found for a message: the knowledge-base hits and the policy's signals."""

    hits: list[KbHit]
    signals: Signals


@dataclass(frozen=True)
class BotReply:
    """What the bot would say, and why (`meta` is stored with the bot message)."""

    decision: Decision
    text: str
    meta: dict[str, Any]


async def understand(runtime: Runtime, text: str) -> Understanding:
    """Encode `text` (one micro-batched encoder call) and search the knowledge index."""
    try:
        vector = await runtime.batcher.encode_one(text)
    except EmbedderError as exc:
        raise ServiceUnavailable("the language model failed on this message; retry") from exc
    limit = max(runtime.settings.retrieval.top_k, 10)
    hits = runtime.knowledge.search(vector, limit=limit)
    return Understanding(hits, Signals(tuple(Candidate(h.article.id, h.score) for h in hits)))


def plan_reply(
    understanding: Understanding, state: ConversationState, settings: Settings
) -> BotReply:
    """Let the policy decide and render its reply (pure: no I/O)."""
    hits = understanding.hits
    decision = decide(understanding.signals, state, settings.policy)
    rendered = render(decision, hits, top_k=settings.retrieval.top_k)
    meta: dict[str, Any] = {
        "kind": decision.kind.value,
        "reason": decision.reason.value,
        "confidence": round(hits[0].score, 4) if hits else 0.0,
        "sources": [s.model_dump() for s in rendered.sources],
        "suggestions": [s.model_dump() for s in rendered.suggestions],
        "signals": _signals_payload(hits, decision),
    }
    return BotReply(decision, rendered.text, meta)


def _decide_and_store(
    conn: Connection,
    *,
    conversation_id: str,
    message_in: MessageIn,
    understanding: Understanding,
    settings: Settings,
) -> tuple[StoredMessage, StoredMessage]:
    """The turn's transaction: lock the conversation while reserving two sequence numbers,
    decide on its fresh state, store the customer message, the reply and the event.

    A `client_id` already stored fails the insert (IntegrityError): everything rolls back and
    the caller answers with what was stored.
    """
    first, _status = conversation_service.reserve_seqs(
        conn, conversation_id=conversation_id, count=2
    )
    state = ConversationState(bot_turns=(first - 1) // 2)
    reply = plan_reply(understanding, state, settings)

    now = utcnow()
    customer = StoredMessage(
        seq=first,
        author=Author.CUSTOMER,
        text=message_in.text,
        created_at=now,
        client_id=message_in.client_id,
    )
    bot = StoredMessage(
        seq=first + 1,
        author=Author.BOT,
        text=reply.text,
        created_at=now,
        reply_to_seq=first,
        meta=reply.meta,
    )
    conversation_service.insert_messages(
        conn, conversation_id=conversation_id, messages=[customer, bot]
    )
    conversation_service.insert_event(
        conn,
        conversation_id=conversation_id,
        type=f"bot.{reply.decision.kind.value}",
        data={"seq": bot.seq, **reply.meta["signals"]["decision"]},
    )
    return customer, bot


async def handle_customer_message(
    runtime: Runtime, *, conversation_id: str, token: str, message_in: MessageIn
) -> TurnOutcome:
    """Store a customer message and the bot's reply; replay the stored result for a retry.

    Authenticate (cached digest) → encode (micro-batched) → search → one transaction that
    locks the conversation, decides on its current state and stores everything.
    """
    settings = runtime.settings
    clock = _Clock()
    await runtime.customer_access.check(conversation_id=conversation_id, token=token)
    clock.lap("auth")
    client_id = message_in.client_id
    try:
        understanding = await understand(runtime, message_in.text)
    except ServiceUnavailable:
        # The model failed; if this is a retry of a message already answered, that answer stands.
        if client_id is None:
            raise
        stored = await _stored_result(
            runtime, conversation_id=conversation_id, client_id=client_id, text=message_in.text
        )
        if stored is None:
            raise
        return TurnOutcome(stored, replayed=True)
    clock.lap("understand")
    try:
        customer, bot = await runtime.db.run(
            _decide_and_store,
            conversation_id=conversation_id,
            message_in=message_in,
            understanding=understanding,
            settings=settings,
        )
    except IntegrityError as exc:
        # This client_id was stored before (a retry, or a concurrent twin): replay it.
        if client_id is None or not conversation_service.is_duplicate_client_id(exc):
            raise
        stored = await _stored_result(
            runtime, conversation_id=conversation_id, client_id=client_id, text=message_in.text
        )
        if stored is None:  # the competing post rolled back: nothing to replay
            raise Conflict("a concurrent post with this client_id failed; retry it") from exc
        return TurnOutcome(stored, replayed=True)
    clock.lap("store")
    return TurnOutcome(_result(customer, bot), replayed=False, timings=clock.laps)
