"""The customer turn's transaction: lock the conversation while reserving its sequence numbers,
decide on its fresh state, and store the customer message, the bot's reply, the events and the
new dialogue state, all or nothing.

While a person owns the conversation the bot stays silent and only the message is stored. A
handoff queues the conversation with its packet in the same transaction (or assigns it to an
online agent). A decision that calls another system raises `ActionNeeded`, rolling back: the
pipeline makes the call outside any transaction and runs this again with its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from app.agents import service as agents_service
from app.agents.availability import QueueNotice, handoff_notice
from app.agents.packet import build_packet
from app.bot.planning import BotReply, Plan, compose_reply, plan_turn
from app.bot.understanding import MessageReader, Understanding
from app.config import Settings
from app.conversations import service as conversation_service
from app.conversations.contact import find_email, set_contact_email
from app.conversations.dialog import Dialog, advance
from app.conversations.models import Author, ConversationStatus, EventType
from app.conversations.ratings import rate, rating_in_text
from app.conversations.schemas import MessageIn
from app.conversations.service import StoredMessage
from app.db import utcnow
from app.errors import AppError, Conflict
from app.intents.actions import ActionOutcome
from app.intents.definitions import IntentCatalog
from app.kb.knowledge import KbHit


class ActionNeeded(Exception):
    """Raised inside the turn's transaction (rolling it back) when the decision calls another
    system: the call runs outside any transaction, then the turn is stored."""

    def __init__(self, plan: Plan, first_seq: int) -> None:
        super().__init__(plan.decision.intent)
        self.plan = plan
        self.first_seq = first_seq


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
        set_contact_email(conn, conversation_id=conversation_id, email=email)
        receipt = conversation_service.system_message(
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
    thanks = conversation_service.system_message(
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
    hits: list[KbHit],
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
        hits=hits,
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
        type=EventType.HANDOFF,
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


def decide_and_store(
    conn: Connection,
    *,
    conversation_id: str,
    message_in: MessageIn,
    understanding: Understanding,
    catalog: IntentCatalog,
    settings: Settings,
    reader: MessageReader,
    action: tuple[int, ActionOutcome] | None = None,
    handoff_refused: AppError | None = None,
) -> StoredTurn:
    """The turn's transaction: lock the conversation while reserving sequence numbers, decide
    on its fresh state, store the customer message, the reply, the events and the new state.

    While a person owns the conversation (queued or assigned) the bot stays silent: only the
    customer message is stored. A resolved conversation the customer writes to again goes
    back to the bot with a fresh dialogue state. A decision that calls another system raises
    `ActionNeeded` (rolling back) unless `action` carries that call's outcome for the same
    state. A `client_id` already stored fails the insert (IntegrityError): everything rolls
    back and the caller answers with what was stored. A handoff while `handoff_refused` is set
    (the client is over its handoff limit) raises it: nothing is stored.
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
    topic = dialog.topic_vector
    context = reader.in_context(understanding, topic) if topic is not None else None
    plan = plan_turn(understanding, dialog, catalog, settings, reservation.customer, context)
    outcome = None
    if plan.needs_action:
        if action is None:
            raise ActionNeeded(plan, first)
        action_seq, outcome = action
        if action_seq != first:
            raise Conflict("the conversation changed while this message was handled; retry it")
    reply = compose_reply(plan, settings, outcome)
    decision = reply.decision
    frame = plan.frame if decision.intent == (plan.frame.intent if plan.frame else None) else None
    new_dialog = advance(
        dialog, decision, frame, understanding.sentiment, replied=True, vector=plan.vector
    )
    text, meta, notice = reply.text, reply.meta, None
    if decision.handoff_reason is not None:
        if handoff_refused is not None:
            raise handoff_refused
        text, notice = _hand_off(
            conn,
            conversation_id=conversation_id,
            reply=reply,
            understanding=understanding,
            hits=plan.hits,
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
        type=EventType.bot(decision.kind),
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
