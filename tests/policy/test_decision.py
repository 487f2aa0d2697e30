"""The turn policy as a decision table (signals x conversation state -> decision), plus the
pinned defaults."""

from __future__ import annotations

import pytest

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
from app.policy.settings import DEFAULT_ANSWER_THRESHOLD, PolicySettings

SETTINGS = PolicySettings(
    answer_threshold=0.6,
    clarify_suggestions=2,
    suggestion_floor=0.2,
    ambiguity_margin=0.02,
    intent_threshold=0.5,
    intent_scope_threshold=0.5,
    sentiment_handoff_level=-0.6,
    sentiment_trend_handoff=-0.5,
    sentiment_trend_min_messages=3,
    max_misses=3,
)
FRESH = ConversationState()

ORDER = Frame("order_status", missing=("order_number",))
ORDER_FILLED = Frame("order_status", slots=(("order_number", "LS-1"),), changed=True)
REFUND_FILLED = Frame("refund", slots=(("order_number", "LS-1"),), changed=True, confirm=True)
REFUND_KNOWN = Frame("refund", slots=(("order_number", "LS-1"),), confirm=True)
REFUND_CORRECTED = Frame("refund", slots=(("order_number", "LS-2"),), changed=True, confirm=True)
REFUND_BAD = Frame("refund", missing=("order_number",), invalid=("order_number",), confirm=True)
HUMAN = Frame("talk_to_human", handoff=HandoffReason.EXPLICIT_REQUEST)
WARRANTY = Frame("warranty_claim", handoff=HandoffReason.INTENT_REQUIRES_HUMAN)

ASKING_ORDER = ConversationState(customer_turns=1, awaiting="order_number")
CONFIRMING = ConversationState(customer_turns=1, awaiting=CONFIRM_STEP)


def kb(*scores: float, confidence: float | None = None) -> Signals:
    """Signals with articles 1, 2, ... scoring `scores` (calibrated confidence ~ top score)."""
    top = scores[0] if scores else 0.0
    return Signals(
        tuple(Candidate(article_id=i + 1, score=s) for i, s in enumerate(scores)),
        kb_confidence=top if confidence is None else confidence,
    )


def with_intent(signals: Signals, frame: Frame, confidence: float, **extra: object) -> Signals:
    """`signals` plus the classifier proposing `frame` at `confidence`."""
    return Signals(
        **{
            **signals.__dict__,
            "intent": IntentSignal(frame.intent, confidence, match=confidence),
            "proposed": frame,
            **extra,
        }
    )


def also(signals: Signals, **extra: object) -> Signals:
    """`signals` with some fields replaced."""
    return Signals(**{**signals.__dict__, **extra})


def handoff(reason: HandoffReason, **extra: object) -> Decision:
    return Decision(DecisionKind.HANDOFF, reason, handoff_reason=reason, **extra)  # type: ignore[arg-type]


TABLE = [
    # --- knowledge-base answers and clarify
    (
        "confident-answer",
        kb(0.9, 0.5),
        FRESH,
        Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1),
    ),
    (
        "at-threshold-answers",
        kb(0.6),
        FRESH,
        Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1),
    ),
    (
        "too-close-to-call-asks-which",
        kb(0.8, 0.79, 0.5),
        FRESH,
        Decision(DecisionKind.CLARIFY, Reason.TOO_CLOSE, suggestions=(1, 2)),
    ),
    (
        "below-threshold-clarifies",
        kb(0.59, 0.5, 0.4),
        FRESH,
        Decision(DecisionKind.CLARIFY, Reason.LOW_CONFIDENCE, suggestions=(1, 2)),
    ),
    (
        "far-off-articles-not-suggested",
        kb(0.3, 0.19),
        FRESH,
        Decision(DecisionKind.CLARIFY, Reason.LOW_CONFIDENCE, suggestions=(1,)),
    ),
    ("empty-knowledge", Signals(), FRESH, Decision(DecisionKind.CLARIFY, Reason.EMPTY_KNOWLEDGE)),
    # --- failing to understand
    (
        "clarify-that-did-not-help-hands-off",
        kb(0.4),
        ConversationState(customer_turns=1, misses=1, last_kind=DecisionKind.CLARIFY),
        handoff(HandoffReason.LOW_CONFIDENCE),
    ),
    (
        "clarify-then-answer-is-fine",
        kb(0.9),
        ConversationState(customer_turns=1, misses=1, last_kind=DecisionKind.CLARIFY),
        Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1),
    ),
    (
        "misses-pile-up-to-repeated-fallback",
        with_intent(kb(0.3), ORDER, 0.2, pending=ORDER),
        ConversationState(customer_turns=3, misses=2, awaiting="order_number"),
        handoff(HandoffReason.REPEATED_FALLBACK),
    ),
    # --- explicit requests and sentiment
    (
        "explicit-request",
        also(kb(0.9), explicit_human=True),
        FRESH,
        handoff(HandoffReason.EXPLICIT_REQUEST),
    ),
    (
        "request-model-fires",
        also(kb(0.9), human_request=0.8),
        FRESH,
        handoff(HandoffReason.EXPLICIT_REQUEST),
    ),
    (
        "request-model-below-threshold-answers",
        also(kb(0.9), human_request=0.3),
        FRESH,
        Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1),
    ),
    (
        # The request model decides: the classifier's guess of talk_to_human alone fired on
        # mentions of people ("is there an agent discount?"), so it is set aside.
        "human-intent-without-the-request-model-is-set-aside",
        with_intent(kb(0.3), HUMAN, 0.9),
        FRESH,
        Decision(DecisionKind.CLARIFY, Reason.LOW_CONFIDENCE, suggestions=(1,)),
    ),
    (
        "human-intent-with-the-request-model",
        with_intent(kb(0.3), HUMAN, 0.9, human_request=0.9),
        FRESH,
        handoff(HandoffReason.EXPLICIT_REQUEST),
    ),
    (
        "a-question-about-the-bot-is-not-a-request",
        also(kb(0.3), human_request=0.9, explicit_human=True, smalltalk="bot_question"),
        FRESH,
        Decision(DecisionKind.SMALLTALK, Reason.SMALLTALK, intent="bot_question"),
    ),
    (
        # "yes please" to "Shall I refund it?" answers the question, whatever the model says.
        "yes-please-at-the-confirmation-runs-the-intent",
        also(kb(0.3), pending=REFUND_KNOWN, affirm=True, human_request=0.8),
        CONFIRMING,
        Decision(DecisionKind.RUN_INTENT, Reason.CONFIRMED, intent="refund"),
    ),
    # --- small talk
    (
        "hello-is-small-talk-whatever-the-kb-says",
        also(kb(0.7), smalltalk="greeting"),
        FRESH,
        Decision(DecisionKind.SMALLTALK, Reason.SMALLTALK, intent="greeting"),
    ),
    (
        "thanks-after-a-clarify-is-not-a-failed-clarify",
        also(kb(0.1), smalltalk="thanks"),
        ConversationState(customer_turns=1, misses=2, last_kind=DecisionKind.CLARIFY),
        Decision(DecisionKind.SMALLTALK, Reason.SMALLTALK, intent="thanks"),
    ),
    (
        "a-folder-intent-named-after-an-act-is-small-talk",
        with_intent(kb(0.3), Frame("greeting"), 0.9),
        FRESH,
        Decision(DecisionKind.SMALLTALK, Reason.SMALLTALK, intent="greeting"),
    ),
    (
        "ok-at-the-confirmation-is-yes",
        also(kb(0.2), pending=REFUND_KNOWN, affirm=True, smalltalk="acknowledgement"),
        CONFIRMING,
        Decision(DecisionKind.RUN_INTENT, Reason.CONFIRMED, intent="refund"),
    ),
    (
        "ok-while-a-slot-is-awaited-asks-again-without-a-miss",
        also(kb(0.2), pending=ORDER, affirm=True, smalltalk="acknowledgement"),
        ConversationState(customer_turns=3, misses=2, awaiting="order_number"),
        Decision(
            DecisionKind.ASK_SLOT, Reason.SMALLTALK, intent="order_status", slot="order_number"
        ),
    ),
    (
        "goodbye-leaves-the-intent",
        also(kb(0.2), pending=ORDER, smalltalk="goodbye"),
        ASKING_ORDER,
        Decision(DecisionKind.SMALLTALK, Reason.SMALLTALK, intent="goodbye"),
    ),
    (
        "human-intent-below-threshold-ignored",
        with_intent(kb(0.9), HUMAN, 0.3),
        FRESH,
        Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1),
    ),
    (
        "slot-answer-is-not-a-request-for-a-person",
        with_intent(kb(0.3), HUMAN, 0.7, pending=ORDER_FILLED),
        ASKING_ORDER,
        Decision(DecisionKind.RUN_INTENT, Reason.CONFIRMED, intent="order_status"),
    ),
    (
        "explicit-request-beats-pending-intent",
        also(kb(0.3), explicit_human=True, pending=ORDER),
        ASKING_ORDER,
        handoff(HandoffReason.EXPLICIT_REQUEST),
    ),
    (
        "very-negative-message",
        also(kb(0.9), sentiment=-0.8),
        FRESH,
        handoff(HandoffReason.NEGATIVE_SENTIMENT),
    ),
    (
        "mildly-negative-is-fine",
        also(kb(0.9), sentiment=-0.4),
        FRESH,
        Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1),
    ),
    (
        "falling-trend",
        also(kb(0.9), sentiment=-0.3, sentiment_trend=-0.6),
        ConversationState(customer_turns=2),
        handoff(HandoffReason.NEGATIVE_SENTIMENT),
    ),
    (
        "falling-trend-needs-enough-messages",
        also(kb(0.9), sentiment=-0.3, sentiment_trend=-0.6),
        ConversationState(customer_turns=1),
        Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1),
    ),
    # --- intents vs articles by calibrated confidence
    (
        "intent-beats-weaker-article",
        with_intent(kb(0.65, confidence=0.6), ORDER, 0.9),
        FRESH,
        Decision(
            DecisionKind.ASK_SLOT, Reason.SLOT_MISSING, intent="order_status", slot="order_number"
        ),
    ),
    (
        "article-beats-weaker-intent",
        with_intent(kb(0.85, confidence=0.95), ORDER, 0.7),
        FRESH,
        Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1),
    ),
    (
        "intent-below-threshold-leaves-it-to-kb",
        with_intent(kb(0.4, confidence=0.2), ORDER, 0.45),
        FRESH,
        Decision(DecisionKind.CLARIFY, Reason.LOW_CONFIDENCE, suggestions=(1,)),
    ),
    (
        "intent-with-slots-filled-runs",
        with_intent(kb(0.3), ORDER_FILLED, 0.9),
        FRESH,
        Decision(DecisionKind.RUN_INTENT, Reason.INTENT_MATCH, intent="order_status"),
    ),
    (
        "intent-with-confirm-asks-first",
        with_intent(kb(0.3), REFUND_FILLED, 0.9),
        FRESH,
        Decision(DecisionKind.CONFIRM, Reason.CONFIRM_NEEDED, intent="refund"),
    ),
    (
        "invalid-slot-value-asks-again",
        with_intent(kb(0.3), REFUND_BAD, 0.9),
        FRESH,
        Decision(DecisionKind.ASK_SLOT, Reason.SLOT_INVALID, intent="refund", slot="order_number"),
    ),
    (
        "intent-that-needs-a-person",
        with_intent(kb(0.3), WARRANTY, 0.9),
        FRESH,
        handoff(HandoffReason.INTENT_REQUIRES_HUMAN, intent="warranty_claim"),
    ),
    # --- an intent in progress
    (
        "slot-answered-runs",
        also(kb(0.2), pending=ORDER_FILLED),
        ASKING_ORDER,
        Decision(DecisionKind.RUN_INTENT, Reason.CONFIRMED, intent="order_status"),
    ),
    (
        "slot-not-answered-asks-again",
        also(kb(0.2), pending=ORDER),
        ASKING_ORDER,
        Decision(
            DecisionKind.ASK_SLOT, Reason.NO_ANSWER, intent="order_status", slot="order_number"
        ),
    ),
    (
        "topic-change-to-article",
        also(kb(0.9), pending=ORDER),
        ASKING_ORDER,
        Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1),
    ),
    (
        "topic-change-to-other-intent",
        with_intent(kb(0.2), REFUND_FILLED, 0.9, pending=ORDER),
        ASKING_ORDER,
        Decision(DecisionKind.CONFIRM, Reason.CONFIRM_NEEDED, intent="refund"),
    ),
    (
        "never-mind-cancels",
        also(kb(0.2), pending=ORDER, deny=True),
        ASKING_ORDER,
        Decision(DecisionKind.CANCEL_INTENT, Reason.DECLINED, intent="order_status"),
    ),
    (
        "yes-runs-after-confirm",
        also(kb(0.2), pending=REFUND_KNOWN, affirm=True),
        CONFIRMING,
        Decision(DecisionKind.RUN_INTENT, Reason.CONFIRMED, intent="refund"),
    ),
    (
        "no-cancels-at-confirm",
        also(kb(0.2), pending=REFUND_KNOWN, deny=True),
        CONFIRMING,
        Decision(DecisionKind.CANCEL_INTENT, Reason.DECLINED, intent="refund"),
    ),
    (
        "correction-at-confirm-asks-again",
        also(kb(0.2), pending=REFUND_CORRECTED, deny=True),
        CONFIRMING,
        Decision(DecisionKind.CONFIRM, Reason.CONFIRM_NEEDED, intent="refund"),
    ),
    (
        "unclear-answer-to-confirm-asks-again",
        also(kb(0.2), pending=REFUND_KNOWN),
        CONFIRMING,
        Decision(DecisionKind.CONFIRM, Reason.NO_ANSWER, intent="refund"),
    ),
]


HOURS = Frame("opening_hours")


def with_parts(frame: Frame, probability: float, in_scope: float) -> Signals:
    """Empty knowledge, and the classifier proposing `frame` with the two parts of its
    confidence given apart (as the service's classifier gives them)."""
    confidence = probability * in_scope
    signal = IntentSignal(frame.intent, confidence, confidence, probability, in_scope)
    return Signals(intent=signal, proposed=frame)


TABLE += [
    # --- routing judges "one of the intents?" and "which one?" apart
    (
        "in-scope-and-likely-runs-though-the-product-is-low",
        with_parts(HOURS, probability=0.6, in_scope=0.7),
        FRESH,
        Decision(DecisionKind.RUN_INTENT, Reason.INTENT_MATCH, intent="opening_hours"),
    ),
    (
        "confident-head-out-of-scope-is-not-routed",
        with_parts(HOURS, probability=0.95, in_scope=0.3),
        FRESH,
        Decision(DecisionKind.CLARIFY, Reason.EMPTY_KNOWLEDGE),
    ),
    (
        "in-scope-but-split-between-intents-asks-back",
        with_parts(HOURS, probability=0.4, in_scope=0.95),
        FRESH,
        Decision(DecisionKind.CLARIFY, Reason.EMPTY_KNOWLEDGE),
    ),
]


@pytest.mark.parametrize(
    ("signals", "state", "expected"), [pytest.param(*row[1:], id=row[0]) for row in TABLE]
)
def test_decision_table(signals: Signals, state: ConversationState, expected: Decision) -> None:
    assert decide(signals, state, SETTINGS) == expected


def test_failed_action_hands_off() -> None:
    ran = Decision(DecisionKind.RUN_INTENT, Reason.CONFIRMED, intent="refund")
    assert after_action(ran, True, SETTINGS) == ran
    assert after_action(ran, False, SETTINGS) == handoff(
        HandoffReason.ACTION_FAILED, intent="refund"
    )
    lenient = SETTINGS.model_copy(update={"handoff_on_action_failure": False})
    assert after_action(ran, False, lenient) == ran


def test_an_action_with_an_unknown_outcome_always_hands_off_for_a_check() -> None:
    ran = Decision(DecisionKind.RUN_INTENT, Reason.CONFIRMED, intent="refund")
    unknown = handoff(HandoffReason.ACTION_OUTCOME_UNKNOWN, intent="refund")
    assert after_action(ran, False, SETTINGS, unknown=True) == unknown
    lenient = SETTINGS.model_copy(update={"handoff_on_action_failure": False})
    assert after_action(ran, False, lenient, unknown=True) == unknown


def test_decision_explains_itself() -> None:
    decision = decide(also(kb(0.42), sentiment=-0.2), FRESH, SETTINGS)
    assert decision.diagnostics["top_score"] == 0.42
    assert decision.diagnostics["sentiment"] == -0.2
    assert decision.diagnostics["misses"] == 1


def test_diagnostics_do_not_take_part_in_equality() -> None:
    a = Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1, diagnostics={"x": 1})
    b = Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1, diagnostics={"x": 2})
    assert a == b


def test_defaults_are_pinned() -> None:
    defaults = PolicySettings()
    assert defaults.answer_threshold == DEFAULT_ANSWER_THRESHOLD
    assert defaults.clarify_suggestions == 3
    assert defaults.suggestion_floor == 0.2
    assert defaults.max_misses == 3
    assert defaults.handoff_after_failed_clarify
    assert defaults.handoff_on_action_failure
