"""The customer turn: persist the message, understand it, decide, reply — atomically.

1. Check the customer's token (digest cached in process: no database round trip).
2. Encode the text once (micro-batched, on the encoder thread); from that one vector search
   the knowledge index, guess the intent and score the sentiment.
3. In ONE short transaction: reserve the sequence numbers (the UPDATE locks the conversation
   and returns its status and dialogue state), let the policy decide on that fresh state, and
   store the customer message, the bot reply, the events and the new dialogue state. A handoff
   queues the conversation with its reason in the same transaction. While a person owns the
   conversation the bot stays silent and only the message is stored.
4. An intent that calls another system (HTTP) is decided in that transaction, which then rolls
   back; the call runs outside any transaction with an idempotency key, and the turn is stored
   in a second transaction that checks nothing changed meanwhile (else 409, retry).

A failure anywhere before the commit stores nothing; a retry of a stored `client_id` fails the
unique constraint, rolls back and gets the stored result instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.conversations import service as conversation_service
from app.conversations.dialog import Dialog, advance
from app.conversations.models import Author
from app.conversations.planning import (
    BotReply,
    Plan,
    Understanding,
    compose_reply,
    kb_confidence,
    plan_turn,
)
from app.conversations.schemas import MessageIn, MessageRead, Reply, TurnResult
from app.conversations.service import StoredMessage
from app.db import utcnow
from app.errors import Conflict, ServiceUnavailable
from app.intents.actions import ActionOutcome
from app.intents.builtin import asks_for_human, is_affirmation, is_denial
from app.intents.definitions import IntentCatalog
from app.nlp.embedder import EmbedderError
from app.runtime import Runtime

PUBLIC_META_KEYS = (
    "kind",
    "reason",
    "intent",
    "handoff_reason",
    "confidence",
    "sources",
    "suggestions",
)


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
        intent=meta.get("intent"),
        handoff_reason=meta.get("handoff_reason"),
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


class _ActionNeeded(Exception):
    """Raised inside the turn's transaction (rolling it back) when the decision calls another
    system: the call runs outside any transaction, then the turn is stored."""

    def __init__(self, plan: Plan, first_seq: int) -> None:
        super().__init__(plan.decision.intent)
        self.plan = plan
        self.first_seq = first_seq


class _AlreadyStored(Exception):
    """The message was stored by an earlier post with the same client_id."""

    def __init__(self, result: TurnResult) -> None:
        super().__init__("already stored")
        self.result = result


async def understand(runtime: Runtime, text: str) -> Understanding:
    """Encode `text` once (micro-batched) and read everything from that vector: knowledge
    hits, the intent guess and the sentiment; plus the pattern checks."""
    try:
        vector = await runtime.batcher.encode_one(text)
    except EmbedderError as exc:
        raise ServiceUnavailable("the language model failed on this message; retry") from exc
    policy = runtime.settings.policy
    limit = max(runtime.settings.retrieval.top_k, 10)
    hits = runtime.knowledge.search(vector, limit=limit)
    return Understanding(
        text=text,
        hits=hits,
        kb_confidence=kb_confidence(hits[0].score, policy) if hits else 0.0,
        intent=runtime.intents.guess(vector, text, lambda score: kb_confidence(score, policy)),
        sentiment=runtime.sentiment.score(text, vector),
        explicit_human=policy.human_request_patterns and asks_for_human(text),
        affirm=is_affirmation(text),
        deny=is_denial(text),
    )


def plan_reply(runtime: Runtime, understanding: Understanding, dialog: Dialog) -> BotReply:
    """What the bot would say to a message in a conversation at `dialog` (no I/O; an HTTP
    intent's call is not made: its reply says so). Used by `python -m app ask`."""
    plan = plan_turn(understanding, dialog, runtime.intents.catalog, runtime.settings)
    outcome = None
    if plan.needs_action:
        outcome = ActionOutcome(ok=True, text=f"(would call the {plan.decision.intent} action)")
    return compose_reply(plan, understanding, runtime.settings, outcome)


def _decide_and_store(
    conn: Connection,
    *,
    conversation_id: str,
    message_in: MessageIn,
    understanding: Understanding,
    catalog: IntentCatalog,
    settings: Settings,
    action: tuple[int, ActionOutcome] | None = None,
) -> tuple[StoredMessage, StoredMessage | None]:
    """The turn's transaction: lock the conversation while reserving sequence numbers, decide
    on its fresh state, store the customer message, the reply, the events and the new state.

    While a person owns the conversation (queued or assigned) the bot stays silent: only the
    customer message is stored. A decision that calls another system raises `_ActionNeeded`
    (rolling back) unless `action` carries that call's outcome for the same state. A
    `client_id` already stored fails the insert (IntegrityError): everything rolls back and
    the caller answers with what was stored.
    """
    reservation = conversation_service.reserve_turn(conn, conversation_id=conversation_id)
    first = reservation.first_seq
    now = utcnow()
    customer = StoredMessage(
        seq=first,
        author=Author.CUSTOMER,
        text=message_in.text,
        created_at=now,
        client_id=message_in.client_id,
    )
    if not reservation.bot_replies:
        conversation_service.insert_messages(
            conn, conversation_id=conversation_id, messages=[customer]
        )
        return customer, None

    dialog = Dialog.from_json(reservation.dialog)
    plan = plan_turn(understanding, dialog, catalog, settings)
    outcome = None
    if plan.needs_action:
        if action is None:
            raise _ActionNeeded(plan, first)
        action_seq, outcome = action
        if action_seq != first:
            raise Conflict("the conversation changed while this message was handled; retry it")
    reply = compose_reply(plan, understanding, settings, outcome)
    decision = reply.decision
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
    frame = plan.frame if decision.intent == (plan.frame.intent if plan.frame else None) else None
    new_dialog = advance(dialog, decision, frame, understanding.sentiment, replied=True)
    handoff = decision.handoff_reason.value if decision.handoff_reason else None
    conversation_service.save_dialog(
        conn, conversation_id=conversation_id, dialog=new_dialog.to_json(), handoff_reason=handoff
    )
    conversation_service.insert_event(
        conn,
        conversation_id=conversation_id,
        type=f"bot.{decision.kind.value}",
        data={"seq": bot.seq, "intent": decision.intent, **reply.meta["decision"]},
    )
    if handoff is not None:
        conversation_service.insert_event(
            conn,
            conversation_id=conversation_id,
            type="conversation.handoff",
            data={
                "seq": bot.seq,
                "reason": handoff,
                "intent": decision.intent,
                "slots": reply.meta.get("slots", {}),
                "signals": reply.meta["signals"],
                "articles": reply.meta["retrieval"][:3],
            },
        )
    return customer, bot


async def _store_turn(
    runtime: Runtime,
    *,
    conversation_id: str,
    message_in: MessageIn,
    understanding: Understanding,
    clock: _Clock,
) -> tuple[StoredMessage, StoredMessage | None]:
    """Decide and store; when the decision calls another system, make the call outside the
    transaction (keyed for idempotency by conversation and message) and store after it."""
    store = partial(
        runtime.db.run,
        _decide_and_store,
        conversation_id=conversation_id,
        message_in=message_in,
        understanding=understanding,
        catalog=runtime.intents.catalog,
        settings=runtime.settings,
    )
    try:
        return await store()
    except _ActionNeeded as needed:
        plan = needed.plan
        assert plan.intent is not None
        if message_in.client_id is not None:
            # A retry of a post that already ran its action must not run it again.
            stored = await _stored_result(
                runtime,
                conversation_id=conversation_id,
                client_id=message_in.client_id,
                text=message_in.text,
            )
            if stored is not None:
                raise _AlreadyStored(stored) from None
        clock.lap("decide")
        outcome = await runtime.intents.run(
            plan.intent,
            dict(plan.frame.slots) if plan.frame else {},
            idempotency_key=f"{conversation_id}:{needed.first_seq}",
        )
        clock.lap("action")
        return await store(action=(needed.first_seq, outcome))


async def handle_customer_message(
    runtime: Runtime, *, conversation_id: str, token: str, message_in: MessageIn
) -> TurnOutcome:
    """Store a customer message and the bot's reply; replay the stored result for a retry.

    Authenticate (cached digest) → encode (micro-batched) → search → one transaction that
    locks the conversation, decides on its current state and stores everything.
    """
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
        customer, bot = await _store_turn(
            runtime,
            conversation_id=conversation_id,
            message_in=message_in,
            understanding=understanding,
            clock=clock,
        )
    except _AlreadyStored as already:
        return TurnOutcome(already.result, replayed=True)
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
