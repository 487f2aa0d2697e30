"""From an understood message and the dialogue state to the bot's reply: pure, no I/O.

`plan_turn` reads slot values for the intent in progress and for the classifier's intent,
builds the policy's `Signals`, and lets `decide` choose; an intent that requires a verified
customer is then refused for an anonymous visitor before anything is asked or run (a
`cancel_intent` decision with reason `needs_verified_customer` and the intent's
`verification_reply`). `compose_reply` turns the decision
(and, for an HTTP intent, its action's outcome) into the text and the stored metadata: the
public signals, the decision with its diagnostics, and the policy's inputs for replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from app.bot.replies import render
from app.bot.understanding import ContextReading, Understanding
from app.config import Settings
from app.conversations.dialog import Dialog, frame_for
from app.identity import VerifiedCustomer, template_customer
from app.intents.actions import ActionOutcome, render_reply
from app.intents.definitions import (
    HandoffAction,
    HttpAction,
    IntentCatalog,
    IntentDef,
    ReplyAction,
)
from app.intents.slots import read_slots
from app.intents.smalltalk import smalltalk_reply
from app.intents.templates import TemplateProblem
from app.intents.templates import render as render_template
from app.kb.knowledge import KbHit
from app.nlp.sentiment import sentiment_trend
from app.policy.decision import (
    CONFIRM_STEP,
    Candidate,
    ConversationState,
    Decision,
    DecisionKind,
    Frame,
    HandoffReason,
    IntentSignal,
    Reason,
    Signals,
    after_action,
    decide,
)
from app.policy.followups import (
    ReadingStrength,
    decisive,
    leans_on_context,
    points_back,
    prefer_context,
)
from app.policy.inputs import policy_input

REPLY_KINDS = {
    DecisionKind.ANSWER: "answer",
    DecisionKind.RUN_INTENT: "intent",
    DecisionKind.CANCEL_INTENT: "intent",
    DecisionKind.ASK_SLOT: "ask",
    DecisionKind.CONFIRM: "ask",
    DecisionKind.CLARIFY: "clarify",
    DecisionKind.HANDOFF: "handoff",
    DecisionKind.SMALLTALK: "smalltalk",
}

HANDOFF_TEXT = {
    HandoffReason.EXPLICIT_REQUEST: "Of course. I'm connecting you with a member of our team.",
    HandoffReason.NEGATIVE_SENTIMENT: (
        "I'm sorry this has been frustrating. I'm bringing in a member of our team to sort it "
        "out with you."
    ),
    HandoffReason.LOW_CONFIDENCE: (
        "I'm not able to answer that well, so I'm passing you to a member of our team."
    ),
    HandoffReason.REPEATED_FALLBACK: (
        "I don't seem to be getting this right, so I'm passing you to a member of our team."
    ),
    HandoffReason.INTENT_REQUIRES_HUMAN: "A member of our team needs to help with this.",
    HandoffReason.ACTION_FAILED: (
        "I couldn't complete that just now because one of our systems didn't respond, so I'm "
        "passing you to a member of our team."
    ),
    HandoffReason.ACTION_OUTCOME_UNKNOWN: (
        "I sent your request, but our system hasn't confirmed it yet, so it may already have "
        "gone through. Please don't ask again for now: a member of our team is checking it "
        "and will tell you where it stands."
    ),
}
HANDOFF_FOOTER = "They'll see our conversation, so you won't need to repeat yourself."
CANCELLED_TEXT = "OK, I won't go ahead with that. Is there anything else I can help with?"
NOT_ANSWERED_TEXT = "Sorry, I still need that to continue."
INVALID_TEXT = "That doesn't look right."
CONFIRM_AGAIN_TEXT = "Please answer yes or no."


@dataclass(frozen=True)
class Plan:
    """The policy's decision on a message, with the inputs it saw."""

    signals: Signals
    state: ConversationState
    decision: Decision
    frame: Frame | None  # the intent frame the decision acts on
    intent: IntentDef | None
    customer: VerifiedCustomer | None = None  # None: an anonymous visitor
    hits: list[KbHit] = field(default_factory=list)  # the articles of the reading acted on
    vector: np.ndarray | None = None  # that reading's vector (the next turn's topic)

    @property
    def template_customer(self) -> dict[str, Any]:
        """What the intent's templates see as `customer`."""
        return template_customer(self.customer)

    @property
    def needs_action(self) -> bool:
        """Whether carrying out the decision calls another system (outside any transaction)."""
        return self.decision.kind is DecisionKind.RUN_INTENT and isinstance(
            self.intent.action if self.intent else None, HttpAction
        )


@dataclass(frozen=True)
class BotReply:
    """What the bot says, and why (`meta` is stored with the bot message)."""

    decision: Decision
    text: str
    meta: dict[str, Any]


GATED_KINDS = (DecisionKind.RUN_INTENT, DecisionKind.ASK_SLOT, DecisionKind.CONFIRM)


def verification_gate(
    decision: Decision, intent: IntentDef | None, customer: VerifiedCustomer | None
) -> Decision:
    """The decision, unless it would start, fill, confirm or run an intent that requires a
    verified customer for an anonymous visitor: then the intent is refused before anything
    is asked (no order number is asked for that could not be used) and never runs."""
    if (
        customer is not None
        or intent is None
        or not intent.requires_verified_customer
        or decision.kind not in GATED_KINDS
    ):
        return decision
    return Decision(
        kind=DecisionKind.CANCEL_INTENT,
        reason=Reason.NEEDS_VERIFIED_CUSTOMER,
        intent=decision.intent,
        diagnostics={
            **decision.diagnostics,
            "needs_verified_customer": True,
            "instead_of": decision.kind.value,
        },
    )


def _carried_slots(
    intent: IntentDef, dialog: Dialog, *, cue: bool, pending: str | None
) -> dict[str, str]:
    """Slot values of the conversation's topic a new intent takes over ("cancel it" after
    the status of LS-10041 cancels LS-10041): same-named slots, when the wording leans on
    the previous turn or the intent confirms before acting."""
    if intent.name == pending or not dialog.topic_slots or not (cue or intent.confirm):
        return {}
    return {name: value for name, value in dialog.topic_slots.items() if name in intent.slots}


def _frames(
    text: str,
    intent: IntentSignal | None,
    catalog: IntentCatalog,
    dialog: Dialog,
    pending: Frame | None,
    *,
    cue: bool,
) -> Frame | None:
    """The frame of the classifier's intent, as the intent in progress or a new one."""
    proposed_def = catalog.get(intent.name if intent else None)
    if proposed_def is None:
        return None
    if pending is not None and proposed_def.name == pending.intent:
        return pending
    carried = _carried_slots(proposed_def, dialog, cue=cue, pending=dialog.intent)
    return frame_for(proposed_def, carried, read_slots(proposed_def.slots, text))


def _asks_for_person(intent: IntentSignal | None, catalog: IntentCatalog) -> bool:
    definition = catalog.get(intent.name if intent else None)
    return (
        definition is not None
        and isinstance(definition.action, HandoffAction)
        and definition.action.reason == HandoffReason.EXPLICIT_REQUEST.value
    )


def _strength(
    hits: list[KbHit], kb: float, intent: IntentSignal | None, settings: Settings
) -> ReadingStrength:
    confidence = intent.confidence if intent else 0.0
    scores = [h.score for h in hits]
    return ReadingStrength(kb, confidence, decisive(scores, intent, settings.policy))


def plan_turn(
    understanding: Understanding,
    dialog: Dialog,
    catalog: IntentCatalog,
    settings: Settings,
    customer: VerifiedCustomer | None = None,
    context: ContextReading | None = None,
) -> Plan:
    """Read slots, choose between the message alone and its `context` reading (the message
    mixed with the conversation's topic), build the signals, let the policy decide, and
    refuse an intent that needs a verified customer when `customer` is None."""
    text = understanding.text
    pending_def = catalog.get(dialog.intent)
    pending = None
    if pending_def is not None:
        awaited = dialog.awaiting if dialog.awaiting != CONFIRM_STEP else None
        readings = read_slots(pending_def.slots, text, awaited=awaited)
        pending = frame_for(pending_def, dialog.slots, readings)
    cue = leans_on_context(text)
    hits, kb_conf, guess, vector = (
        understanding.hits,
        understanding.kb_confidence,
        understanding.intent,
        understanding.vector,
    )
    reading: dict[str, Any] = {"reading": "alone"}
    answers_pending = pending is not None and (
        pending.changed
        or bool(pending.invalid)
        or (dialog.awaiting == CONFIRM_STEP and (understanding.affirm or understanding.deny))
    )
    if context is not None and _asks_for_person(context.intent, catalog):
        # A request for a person is read from the customer's own words, never from the topic.
        context = replace(context, intent=guess)
    if context is not None and not answers_pending:
        alone = _strength(hits, kb_conf, guess, settings)
        mixed = _strength(context.hits, context.kb_confidence, context.intent, settings)
        pointer = points_back(text)
        use_context = prefer_context(
            alone, mixed, cue=cue, pointer=pointer, settings=settings.policy
        )
        reading = {
            "reading": "context" if use_context else "alone",
            "followup_cue": cue,
            "points_back": pointer,
            "relatedness": round(context.relatedness, 4),
            "alone": _reading_summary(understanding.hits, alone),
            "context": _reading_summary(context.hits, mixed),
        }
        if use_context:
            hits, kb_conf, guess, vector = (
                context.hits,
                context.kb_confidence,
                context.intent,
                context.vector,
            )
    proposed = _frames(text, guess, catalog, dialog, pending, cue=cue)
    signals = Signals(
        candidates=tuple(Candidate(h.article.id, h.score, len(h.exact)) for h in hits),
        kb_confidence=kb_conf,
        intent=guess,
        explicit_human=understanding.explicit_human,
        human_request=understanding.human_request,
        smalltalk=understanding.smalltalk,
        sentiment=understanding.sentiment,
        sentiment_trend=sentiment_trend([*dialog.sentiments, understanding.sentiment]),
        affirm=understanding.affirm,
        deny=understanding.deny,
        pending=pending,
        proposed=proposed,
        topic_article=dialog.topic_article if reading["reading"] == "context" else None,
        leans_on_topic=cue and reading["reading"] == "context",
    )
    state = dialog.policy_state()
    decision = decide(signals, state, settings.policy)
    decision = replace(decision, diagnostics={**decision.diagnostics, **reading})
    frame = None
    if decision.intent is not None:
        frame = pending if pending and pending.intent == decision.intent else proposed
    if frame is not None and frame is proposed and proposed is not pending:
        carried = [name for name, _ in frame.slots if name in dialog.topic_slots]
        if carried and proposed is not None:
            decision.diagnostics["carried_slots"] = carried
    intent = catalog.get(decision.intent)
    decision = verification_gate(decision, intent, customer)
    return Plan(signals, state, decision, frame, intent, customer, hits=hits, vector=vector)


def _reading_summary(hits: list[KbHit], strength: ReadingStrength) -> dict[str, Any]:
    return {
        "decisive": strength.decisive,
        "article_id": hits[0].article.id if hits else None,
        "top_score": round(hits[0].score, 4) if hits else 0.0,
        "kb_confidence": round(strength.kb_confidence, 4),
        "intent_confidence": round(strength.intent_confidence, 4),
    }


def _slot_text(plan: Plan, slots: dict[str, str]) -> str:
    decision, intent = plan.decision, plan.intent
    assert intent is not None and decision.slot is not None
    slot = intent.slots[decision.slot]
    customer = plan.template_customer
    prompt = render_template(slot.prompt, slots=slots, customer=customer)
    if decision.reason.value not in ("slot_invalid", "no_answer"):
        return prompt
    if slot.invalid:
        return render_template(slot.invalid, slots=slots, customer=customer)
    if decision.reason.value == "no_answer":
        return f"{NOT_ANSWERED_TEXT} {prompt}"
    frame = plan.frame
    said = dict(zip(frame.invalid, frame.problems, strict=False)) if frame else {}
    return f"{said.get(decision.slot) or INVALID_TEXT} {prompt}"


def _intent_text(plan: Plan, outcome: ActionOutcome | None) -> str:
    decision, intent = plan.decision, plan.intent
    slots = dict(plan.frame.slots) if plan.frame else {}
    if decision.reason is Reason.NEEDS_VERIFIED_CUSTOMER and intent is not None:
        return intent.refusal_text
    if decision.kind is DecisionKind.CANCEL_INTENT:
        return CANCELLED_TEXT
    if decision.kind is DecisionKind.ASK_SLOT:
        return _slot_text(plan, slots)
    assert intent is not None
    if decision.kind is DecisionKind.CONFIRM:
        question = render_template(
            intent.confirm or "", slots=slots, customer=plan.template_customer
        )
        return (
            f"{CONFIRM_AGAIN_TEXT} {question}" if decision.reason.value == "no_answer" else question
        )
    return outcome.text if outcome is not None else ""


def _handoff_text(
    decision: Decision,
    intent: IntentDef | None,
    slots: dict[str, str],
    customer: dict[str, Any] | None = None,
) -> str:
    if intent is not None and isinstance(intent.action, HandoffAction) and intent.action.reply:
        return render_template(
            intent.action.reply, slots=slots, customer=customer or template_customer(None)
        )
    reason = decision.handoff_reason or HandoffReason.LOW_CONFIDENCE
    return f"{HANDOFF_TEXT[reason]} {HANDOFF_FOOTER}"


def public_signals(signals: Signals, hits: list[KbHit]) -> dict[str, Any]:
    """The signals a message response shows."""
    intent = signals.intent
    return {
        "intent": {
            "name": intent.name,
            "confidence": round(intent.confidence, 4),
            "match": round(intent.match, 4),
        }
        if intent
        else None,
        "kb_top_score": round(hits[0].score, 4) if hits else 0.0,
        "sentiment": round(signals.sentiment, 4),
        "sentiment_trend": round(signals.sentiment_trend, 4),
    }


def _confidence(decision: Decision, signals: Signals, hits: list[KbHit]) -> float:
    """What the decision rests on: the intent's confidence, or the best article's score."""
    if decision.intent and signals.intent and signals.intent.name == decision.intent:
        return round(signals.intent.confidence, 4)
    return round(hits[0].score, 4) if hits else 0.0


def compose_reply(
    plan: Plan,
    settings: Settings,
    outcome: ActionOutcome | None = None,
) -> BotReply:
    """The reply for `plan` (with the outcome of its action, when it called one)."""
    hits = plan.hits
    decision = plan.decision
    slots = dict(plan.frame.slots) if plan.frame else {}
    if outcome is None and decision.kind is DecisionKind.RUN_INTENT and plan.intent is not None:
        outcome = render_reply(
            plan.intent.effective_action,  # type: ignore[arg-type]
            slots,
            plan.template_customer,
        )
    if outcome is not None:
        decision = after_action(decision, outcome.ok, settings.policy, unknown=outcome.unknown)
    try:
        text = _text(replace(plan, decision=decision), hits, outcome, settings)
    except TemplateProblem:
        decision = after_action(
            replace(decision, kind=DecisionKind.RUN_INTENT), False, settings.policy
        )
        text = _handoff_text(decision, None, slots)
    rendered = render(decision, hits, top_k=settings.retrieval.top_k)
    meta: dict[str, Any] = {
        "kind": REPLY_KINDS[decision.kind],
        "reason": decision.reason.value,
        "intent": decision.intent,
        "handoff_reason": decision.handoff_reason.value if decision.handoff_reason else None,
        "confidence": _confidence(decision, plan.signals, hits),
        "sources": [s.model_dump() for s in rendered.sources]
        if decision.kind in (DecisionKind.ANSWER, DecisionKind.CLARIFY)
        else [],
        "suggestions": [s.model_dump() for s in rendered.suggestions],
        "signals": public_signals(plan.signals, hits),
        "decision": {
            "kind": decision.kind.value,
            "reason": decision.reason.value,
            "slot": decision.slot,
            **decision.diagnostics,
        },
        "retrieval": [{"article_id": h.article.id, "score": round(h.score, 4)} for h in hits],
        "policy_input": policy_input(plan.signals, plan.state),
    }
    if slots:
        meta["slots"] = slots
    if outcome is not None and plan.needs_action:
        meta["action"] = outcome.summary()
    return BotReply(decision, text, meta)


def _text(plan: Plan, hits: list[KbHit], outcome: ActionOutcome | None, settings: Settings) -> str:
    decision = plan.decision
    slots = dict(plan.frame.slots) if plan.frame else {}
    if decision.kind is DecisionKind.HANDOFF:
        return _handoff_text(decision, plan.intent, slots, plan.template_customer)
    if decision.kind in (DecisionKind.ANSWER, DecisionKind.CLARIFY):
        return render(decision, hits, top_k=settings.retrieval.top_k).text
    if decision.kind is DecisionKind.SMALLTALK:
        return _smalltalk_text(plan)
    return _intent_text(plan, outcome)


def _smalltalk_text(plan: Plan) -> str:
    """The reply to small talk: a folder intent's own reply for the act, or the built-in one
    for the moment (app/intents/smalltalk.py)."""
    act = plan.decision.intent or ""
    action = plan.intent.effective_action if plan.intent is not None else None
    custom = None
    if isinstance(action, ReplyAction):
        custom = render_reply(action, {}, plan.template_customer).text
    last = plan.state.last_kind.value if plan.state.last_kind else None
    return smalltalk_reply(act, last, custom)
