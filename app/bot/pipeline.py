"""The customer turn: persist the message, understand it, decide, reply — atomically.

1. Check the customer's token (digest cached in process: no database round trip).
2. Understand the text from one encoder call (`app.bot.understanding`): knowledge hits, the
   intent guess, the sentiment, the pattern checks.
3. In ONE short transaction (`app.bot.store.decide_and_store`): reserve the sequence numbers
   (locking the conversation), let the policy decide on that fresh state, store the customer
   message, the reply, the events and the new dialogue state.
4. An intent that calls another system (HTTP) is decided in that transaction, which then rolls
   back; the call runs outside any transaction with an idempotency key, and the turn is stored
   in a second transaction that checks nothing changed meanwhile (else 409, retry).
5. After the commit, publish the live events (`app.bot.publish`).

A failure anywhere before the commit stores nothing; a retry of a stored `client_id` gets the
stored result instead (`app.conversations.idempotency`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from app.bot.planning import BotReply, compose_reply, plan_turn
from app.bot.publish import publish_turn
from app.bot.store import ActionNeeded, StoredTurn, decide_and_store
from app.bot.understanding import MessageReader, Understanding
from app.config import Settings
from app.conversations.access import CustomerAccess
from app.conversations.dialog import Dialog
from app.conversations.idempotency import ClientPost
from app.conversations.models import Author
from app.conversations.schemas import MessageIn, Reply, TurnResult
from app.conversations.service import StoredMessage
from app.conversations.views import message_read
from app.db import Database
from app.errors import AppError, ServiceUnavailable
from app.intents.actions import ActionOutcome
from app.intents.engine import IntentEngine
from app.realtime.broker import Broker


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


def _not_called(intent: str | None) -> ActionOutcome:
    """The outcome shown for an HTTP intent whose call is not made ("try it", suites)."""
    return ActionOutcome(ok=True, text=f"(would call the {intent} action)")


class _Clock:
    """Measures consecutive stages of a turn."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = (now - self._last) * 1000.0
        self._last = now


class _AlreadyStored(Exception):
    """The message was stored by an earlier post with the same client_id."""

    def __init__(self, result: TurnResult) -> None:
        super().__init__("already stored")
        self.result = result


class Bot:
    """The bot's side of a conversation: what it reads in a message, what it would say, and
    the whole customer turn. With `call_integrations` false an HTTP intent is decided and
    stored as if its call succeeded, without making it (conversation suites)."""

    def __init__(
        self,
        *,
        db: Database,
        reader: MessageReader,
        intents: IntentEngine,
        access: CustomerAccess,
        broker: Broker,
        settings: Settings,
        call_integrations: bool = True,
    ) -> None:
        self._db = db
        self._call_integrations = call_integrations
        self._reader = reader
        self._intents = intents
        self._access = access
        self._broker = broker
        self._settings = settings

    async def understand(self, text: str) -> Understanding:
        """Everything read from one encoder call, plus the pattern checks (503 on a model
        failure)."""
        return await self._reader.understand(text)

    def plan_reply(self, understanding: Understanding, dialog: Dialog) -> BotReply:
        """What the bot would say to a message in a conversation at `dialog` (no I/O; an HTTP
        intent's call is not made: its reply says so). The admin's "try it" and
        `python -m app ask` show it, as for an anonymous visitor: an intent that requires a
        verified customer is refused (reason `needs_verified_customer`)."""
        topic = dialog.topic_vector
        context = self._reader.in_context(understanding, topic) if topic is not None else None
        plan = plan_turn(
            understanding, dialog, self._intents.catalog, self._settings, context=context
        )
        outcome = _not_called(plan.decision.intent) if plan.needs_action else None
        return compose_reply(plan, self._settings, outcome)

    async def handle_customer_message(
        self,
        *,
        conversation_id: str,
        token: str,
        message_in: MessageIn,
        handoff_refused: AppError | None = None,
    ) -> TurnOutcome:
        """Store a customer message and the bot's reply; replay the stored result for a retry.
        A turn that would hand off while `handoff_refused` is set raises it, storing nothing.

        Authenticate (cached digest) → understand (micro-batched) → one transaction that locks
        the conversation, decides on its current state and stores everything → publish.
        """
        clock = _Clock()
        await self._access.check(conversation_id=conversation_id, token=token)
        clock.lap("auth")
        post = ClientPost(
            self._db,
            conversation_id=conversation_id,
            author=Author.CUSTOMER,
            client_id=message_in.client_id,
            text=message_in.text,
        )
        try:
            understanding = await self.understand(message_in.text)
        except ServiceUnavailable:
            # The model failed; if this retries a message already answered, that answer stands.
            found = await post.stored()
            if found is None:
                raise
            return TurnOutcome(_result(*found), replayed=True)
        clock.lap("understand")
        try:
            stored = await self._store_turn(
                conversation_id=conversation_id,
                message_in=message_in,
                understanding=understanding,
                post=post,
                clock=clock,
                handoff_refused=handoff_refused,
            )
        except _AlreadyStored as already:
            return TurnOutcome(already.result, replayed=True)
        except IntegrityError as exc:
            # This client_id was stored before (a retry, or a concurrent twin): replay it.
            return TurnOutcome(_result(*await post.twin(exc)), replayed=True)
        clock.lap("store")
        await publish_turn(self._broker, conversation_id=conversation_id, stored=stored)
        return TurnOutcome(_result(stored.customer, stored.bot), replayed=False, timings=clock.laps)

    async def _store_turn(
        self,
        *,
        conversation_id: str,
        message_in: MessageIn,
        understanding: Understanding,
        post: ClientPost,
        clock: _Clock,
        handoff_refused: AppError | None,
    ) -> StoredTurn:
        """Decide and store; when the decision calls another system, make the call outside
        the transaction (keyed for idempotency by conversation and message) and store after."""

        async def store(action: tuple[int, ActionOutcome] | None = None) -> StoredTurn:
            return await self._db.run(
                decide_and_store,
                conversation_id=conversation_id,
                message_in=message_in,
                understanding=understanding,
                catalog=self._intents.catalog,
                settings=self._settings,
                reader=self._reader,
                action=action,
                handoff_refused=handoff_refused,
            )

        try:
            return await store()
        except ActionNeeded as needed:
            plan = needed.plan
            assert plan.intent is not None
            # A retry of a post that already ran its action must not run it again.
            found = await post.stored()
            if found is not None:
                raise _AlreadyStored(_result(*found)) from None
            clock.lap("decide")
            if not self._call_integrations:
                outcome = _not_called(plan.intent.name)
            else:
                outcome = await self._intents.run(
                    plan.intent,
                    dict(plan.frame.slots) if plan.frame else {},
                    idempotency_key=f"{conversation_id}:{needed.first_seq}",
                    customer=plan.customer,
                )
            clock.lap("action")
            return await store(action=(needed.first_seq, outcome))
