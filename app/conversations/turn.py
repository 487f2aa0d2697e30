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
from datetime import datetime
from functools import partial

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.agents import service as agents_service
from app.agents.availability import QueueNotice, handoff_notice
from app.agents.notify import publish_turn
from app.agents.packet import build_packet
from app.agents.ratings import rate, rating_in_text
from app.agents.service import find_email
from app.config import Settings
from app.conversations import service as conversation_service
from app.conversations.dialog import Dialog, advance
from app.conversations.models import Author, ConversationStatus
from app.conversations.planning import (
    BotReply,
    Plan,
    Understanding,
    compose_reply,
    kb_confidence,
    plan_turn,
)
from app.conversations.reading import read_messages
from app.conversations.schemas import MessageIn, Reply, TurnResult
from app.conversations.service import StoredMessage
from app.conversations.views import message_read
from app.db import utcnow
from app.errors import Conflict, ServiceUnavailable
from app.intents.actions import ActionOutcome
from app.intents.builtin import asks_for_human, is_affirmation, is_denial
from app.intents.definitions import IntentCatalog
from app.nlp.embedder import EmbedderError
from app.runtime import Runtime


@dataclass(frozen=True)
class TurnOutcome:
    """The result of a turn, whether it was replayed from an earlier identical post, and where
    its time went (milliseconds per stage, sent as a `Server-Timing` header)."""

    result: TurnResult
    replayed: bool
    timings: dict[str, float] = field(default_factory=dict)


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
        queue=meta.get("queue"),
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
    hits, the intent guess and the sentiment (read with the rest of its batch on the encoder's
    thread, or here for a vector from the cache); plus the pattern checks."""
    try:
        vector, reading = await runtime.batcher.encode_and_read(text)
    except EmbedderError as exc:
        raise ServiceUnavailable("the language model failed on this message; retry") from exc
    if reading is None:
        reading = read_messages(runtime, [text], vector.reshape(1, -1))[0]
    hits = reading.hits
    policy = runtime.settings.policy
    return Understanding(
        text=text,
        hits=hits,
        kb_confidence=kb_confidence(hits[0].score, policy) if hits else 0.0,
        intent=reading.intent,
        sentiment=reading.sentiment,
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


@dataclass(frozen=True)
class StoredTurn:
    """What a turn stored: the customer message, the bot's reply (None while a person owns the
    conversation), system messages (an auto-assignment's join, a follow-up email's receipt),
    and the conversation's owner afterwards, for the live events published after the commit."""

    customer: StoredMessage
    bot: StoredMessage | None
    status: str
    agent_id: int | None = None
    extra: tuple[StoredMessage, ...] = ()
    queue_action: str | None = None  # "added" on handoff, "updated" for a message while queued
    handed_off: bool = False
    agent_name: str | None = None
    reopened: bool = False  # a resolved conversation the customer wrote to again

    @property
    def messages(self) -> list[StoredMessage]:
        """Every message stored, in sequence order."""
        return [m for m in (self.customer, self.bot, *self.extra) if m is not None]


def _store_for_person(
    conn: Connection,
    *,
    conversation_id: str,
    customer: StoredMessage,
    reservation: conversation_service.Reservation,
) -> StoredTurn:
    """While a person owns the conversation the bot stays silent: store the message for them.
    A customer who was asked for an email to follow up and writes one gets a receipt."""
    conversation_service.insert_messages(conn, conversation_id=conversation_id, messages=[customer])
    extra: tuple[StoredMessage, ...] = ()
    email = find_email(customer.text) if reservation.follow_up else None
    if email is not None:
        agents_service.set_contact_email(conn, conversation_id=conversation_id, email=email)
        receipt = agents_service.system_message(
            conversation_service.take_seq(conn, conversation_id=conversation_id),
            f"Thanks, we'll follow up at {email}.",
            "follow_up_saved",
            utcnow(),
        )
        conversation_service.insert_messages(
            conn, conversation_id=conversation_id, messages=[receipt]
        )
        extra = (receipt,)
    queued = reservation.status == ConversationStatus.QUEUED
    return StoredTurn(
        customer,
        None,
        reservation.status,
        reservation.assigned_agent_id,
        extra,
        queue_action="updated" if queued else None,
    )


def _rating_from_chat(
    conn: Connection, *, conversation_id: str, customer: StoredMessage
) -> StoredTurn | None:
    """A resolved conversation's customer who answers the rating request with a bare number
    ("5", "4/5") rates the resolution; the service thanks them and the conversation stays
    resolved. None when the message is not a rating or the resolution was already rated."""
    score = rating_in_text(customer.text)
    if score is None:
        return None
    try:
        rate(conn, conversation_id=conversation_id, score=score, comment=None, via="chat")
    except Conflict:
        return None
    thanks = agents_service.system_message(
        customer.seq + 1, f"Thank you for your rating ({score}/5)!", "csat_thanks", utcnow()
    )
    conversation_service.insert_messages(
        conn, conversation_id=conversation_id, messages=[customer, thanks]
    )
    return StoredTurn(customer, None, ConversationStatus.RESOLVED, extra=(thanks,))


def _hand_off(
    conn: Connection,
    *,
    conversation_id: str,
    reply: BotReply,
    understanding: Understanding,
    dialog: Dialog,
    new_dialog: Dialog,
    bot_seq: int,
    settings: Settings,
    now: datetime,
) -> tuple[str, QueueNotice]:
    """Queue the conversation with its handoff packet; returns the reply text with what the
    customer is told about the wait (or the request for an email when nobody is available)."""
    decision = reply.decision
    assert decision.handoff_reason is not None
    reason = decision.handoff_reason.value
    slots = reply.meta.get("slots", {})
    packet = build_packet(
        reason=reason,
        seq=bot_seq,
        now=now,
        question=understanding.text,
        intent=decision.intent,
        slots=slots,
        signals=reply.meta["signals"],
        hits=understanding.hits,
        bot_turns=dialog.bot_turns,
        misses=dialog.misses,
    )
    conversation_service.queue_handoff(
        conn,
        conversation_id=conversation_id,
        dialog=new_dialog.to_json(),
        reason=reason,
        packet=packet,
        now=now,
    )
    notice = handoff_notice(conn, now=now, settings=settings.agents, queued_at=now)
    if notice.follow_up:
        conversation_service.set_follow_up(conn, conversation_id=conversation_id)
    conversation_service.insert_event(
        conn,
        conversation_id=conversation_id,
        type="conversation.handoff",
        data={
            "seq": bot_seq,
            "reason": reason,
            "intent": decision.intent,
            "slots": slots,
            "signals": reply.meta["signals"],
            "articles": packet["articles"],
            "queue": notice.as_dict(),
        },
    )
    return f"{reply.text}\n\n{notice.text()}", notice


def _decide_and_store(
    conn: Connection,
    *,
    conversation_id: str,
    message_in: MessageIn,
    understanding: Understanding,
    catalog: IntentCatalog,
    settings: Settings,
    action: tuple[int, ActionOutcome] | None = None,
) -> StoredTurn:
    """The turn's transaction: lock the conversation while reserving sequence numbers, decide
    on its fresh state, store the customer message, the reply, the events and the new state.

    While a person owns the conversation (queued or assigned) the bot stays silent: only the
    customer message is stored. A resolved conversation the customer writes to again goes
    back to the bot with a fresh dialogue state. A decision that calls another system raises
    `_ActionNeeded` (rolling back) unless `action` carries that call's outcome for the same
    state. A `client_id` already stored fails the insert (IntegrityError): everything rolls
    back and the caller answers with what was stored.
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
        return _store_for_person(
            conn, conversation_id=conversation_id, customer=customer, reservation=reservation
        )

    dialog = Dialog.from_json(reservation.dialog)
    reopened = False
    if reservation.status == ConversationStatus.RESOLVED:
        rated = _rating_from_chat(conn, conversation_id=conversation_id, customer=customer)
        if rated is not None:
            return rated
        conversation_service.reopen(conn, conversation_id=conversation_id)
        dialog = Dialog(customer_turns=dialog.customer_turns, bot_turns=dialog.bot_turns)
        reopened = True
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
    frame = plan.frame if decision.intent == (plan.frame.intent if plan.frame else None) else None
    new_dialog = advance(dialog, decision, frame, understanding.sentiment, replied=True)
    text, meta, notice = reply.text, reply.meta, None
    if decision.handoff_reason is not None:
        text, notice = _hand_off(
            conn,
            conversation_id=conversation_id,
            reply=reply,
            understanding=understanding,
            dialog=dialog,
            new_dialog=new_dialog,
            bot_seq=first + 1,
            settings=settings,
            now=now,
        )
        meta = {**meta, "queue": notice.as_dict()}
    else:
        conversation_service.save_dialog(
            conn, conversation_id=conversation_id, dialog=new_dialog.to_json()
        )
    bot = StoredMessage(
        seq=first + 1,
        author=Author.BOT,
        text=text,
        created_at=now,
        reply_to_seq=first,
        meta=meta,
    )
    conversation_service.insert_messages(
        conn, conversation_id=conversation_id, messages=[customer, bot]
    )
    conversation_service.insert_event(
        conn,
        conversation_id=conversation_id,
        type=f"bot.{decision.kind.value}",
        data={"seq": bot.seq, "intent": decision.intent, **reply.meta["decision"]},
    )
    if notice is None:
        return StoredTurn(customer, bot, ConversationStatus.BOT, reopened=reopened)
    if notice.assigned_to is None:
        return StoredTurn(
            customer, bot, ConversationStatus.QUEUED, queue_action="added", handed_off=True
        )
    change = agents_service.assign_queued(
        conn, conversation_id=conversation_id, agent=notice.assigned_to
    )
    return StoredTurn(
        customer,
        bot,
        ConversationStatus.ASSIGNED,
        notice.assigned_to.id,
        tuple(change.messages),
        handed_off=True,
        agent_name=notice.assigned_to.name,
    )


async def _store_turn(
    runtime: Runtime,
    *,
    conversation_id: str,
    message_in: MessageIn,
    understanding: Understanding,
    clock: _Clock,
) -> StoredTurn:
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
        stored = await _store_turn(
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
    await publish_turn(runtime, conversation_id=conversation_id, stored=stored)
    return TurnOutcome(_result(stored.customer, stored.bot), replayed=False, timings=clock.laps)
