"""The turn policy: `decide(signals, state, settings) -> Decision`, pure and without I/O.

The rules, in order (the first that applies wins):

1. **Explicit request** for a person: the request model's score (`Signals.human_request`,
   app/nlp/human_request.py) at or above `human_request_threshold`, or the built-in patterns
   when they are on, unless the message is small talk ("are you a real person?" is a
   question) -> handoff `explicit_request`. The model decides: the classifier's guess of an
   intent whose action is a handoff with reason `explicit_request` (`talk_to_human`) is set
   aside when the model does not fire, since that guess fired on mentions of people ("is
   there an agent discount?"; docs/EVALUATION.md).
2. **Negative sentiment**: the message scores at or below `sentiment_handoff_level`, or the
   conversation's trend falls to `sentiment_trend_handoff` after `sentiment_trend_min_messages`
   customer messages -> handoff `negative_sentiment`.
3. **An intent in progress** (the bot asked for a slot or a confirmation):
   - a new or corrected slot value moves it on: ask the next missing slot, ask to confirm, or
     run it; an invalid value asks again, saying what was wrong;
   - at the confirmation, yes runs it and no cancels it;
   - a message that is clearly about something else (another intent, or a confident article)
     leaves the intent and is handled as a new topic below;
   - small talk ("ok", "thanks", "are you a bot?") that does none of that asks again without
     counting a miss; a goodbye leaves the intent;
   - otherwise the bot asks again, and after `max_misses` turns without progress hands off
     `repeated_fallback`.
4. **Small talk** (a message that is only a greeting, thanks, an acknowledgement, a goodbye
   or a question about the bot, or an accepted intent named after one of those acts) ->
   `smalltalk` with the act as the decision's intent; never a miss.
5. **A new topic**: the classifier's intent is accepted when the message is in scope for the
   intents (`intent_scope_threshold`) and the intent is the likely one among them
   (`intent_threshold`, see `routes_intent`); it then competes with the best article on
   calibrated confidence (the message's match with the intent's closest example vs with the
   article, both mapped to the probability of being right by the same calibration), not by
   order. An intent that wins
   starts: hands off `intent_requires_human` for intents that always need a person, asks for
   missing slots, asks to confirm, or runs. An article above `answer_threshold` answers,
   unless the next article is within `ambiguity_margin` of it: then the bot asks which one was
   meant, unless one of the close ones holds more of the message's identifying terms (a code,
   a plan or product name) than the others, or is the article the conversation is on (its
   last answer): then that one is meant. A message whose wording leans on
   the previous turn ("is there a fee for that?") and whose best article in context is the
   one the conversation is on is answered from it, even below the answer threshold.
6. **Nothing fits**: right after a clarify that did not help -> handoff `low_confidence`; after
   `max_misses` turns without progress -> handoff `repeated_fallback`; otherwise clarify with
   the closest topics.

Each check returns `(fired, measured_value)`; the `Decision` carries a machine-readable reason
and the diagnostics it saw (ignored by equality, so tests compare decisions directly).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

from app.policy.settings import PolicySettings

CONFIRM_STEP = "_confirm"


class DecisionKind(enum.StrEnum):
    """What the bot does with a customer message."""

    ANSWER = "answer"
    RUN_INTENT = "run_intent"
    ASK_SLOT = "ask_slot"
    CONFIRM = "confirm"
    CANCEL_INTENT = "cancel_intent"
    CLARIFY = "clarify"
    HANDOFF = "handoff"
    SMALLTALK = "smalltalk"


class SmallTalkAct(enum.StrEnum):
    """The small talk the bot understands whatever the intents folder holds."""

    GREETING = "greeting"
    THANKS = "thanks"
    ACKNOWLEDGEMENT = "acknowledgement"
    GOODBYE = "goodbye"
    BOT_QUESTION = "bot_question"


SMALLTALK_ACTS = frozenset(act.value for act in SmallTalkAct)


class HandoffReason(enum.StrEnum):
    """Why the bot hands a conversation to a person."""

    EXPLICIT_REQUEST = "explicit_request"
    LOW_CONFIDENCE = "low_confidence"
    NEGATIVE_SENTIMENT = "negative_sentiment"
    REPEATED_FALLBACK = "repeated_fallback"
    INTENT_REQUIRES_HUMAN = "intent_requires_human"
    ACTION_FAILED = "action_failed"
    ACTION_OUTCOME_UNKNOWN = "action_outcome_unknown"


class Reason(enum.StrEnum):
    """Why the policy decided what it did, when it did not hand off (a handoff's reason is its
    `HandoffReason`)."""

    KB_MATCH = "kb_match"
    INTENT_MATCH = "intent_match"
    SLOT_MISSING = "slot_missing"
    SLOT_INVALID = "slot_invalid"
    NO_ANSWER = "no_answer"
    CONFIRM_NEEDED = "confirm_needed"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    TOO_CLOSE = "too_close"
    LOW_CONFIDENCE = "low_confidence"
    EMPTY_KNOWLEDGE = "empty_knowledge"
    SMALLTALK = "smalltalk"
    # Set after the policy by the bot's planning: the intent needs a verified customer.
    NEEDS_VERIFIED_CUSTOMER = "needs_verified_customer"


@dataclass(frozen=True)
class Candidate:
    """One knowledge-base article the search found, as the policy sees it."""

    article_id: int
    score: float
    exact: int = 0  # how many of the message's identifying terms (codes, names) it holds


@dataclass(frozen=True)
class IntentSignal:
    """The classifier's best intent: its calibrated probability of being right, and how well
    the message matches that intent's closest example, as a calibrated probability on the same
    scale as `Signals.kb_confidence` (the intent's examples are scored like an article's
    questions), so that intent and article compete on equal terms."""

    name: str
    confidence: float
    match: float = 0.0
    # The two questions the confidence multiplies, when the classifier gives them apart:
    # P(this intent | the message is one of the intents), and how much it is one at all.
    probability: float | None = None
    in_scope: float | None = None


@dataclass(frozen=True)
class Frame:
    """An intent with what is known of its slots once this message is read."""

    intent: str
    slots: tuple[tuple[str, str], ...] = ()  # (name, value) filled so far
    missing: tuple[str, ...] = ()  # slots still to ask for, in order
    invalid: tuple[str, ...] = ()  # slots this message gave an unacceptable value for
    problems: tuple[str, ...] = ()  # what was wrong with each, in the same order
    changed: bool = False  # this message set or corrected a slot
    confirm: bool = False  # the intent asks "shall I?" before acting
    handoff: HandoffReason | None = None  # the intent's action is a handoff, for this reason


@dataclass(frozen=True)
class Signals:
    """What understanding the message produced: everything `decide` reads about it."""

    candidates: tuple[Candidate, ...] = ()  # best first
    kb_confidence: float = 0.0  # calibrated probability that the best article answers
    intent: IntentSignal | None = None
    explicit_human: bool = False  # the built-in patterns matched
    human_request: float = 0.0  # the request model's P(the message asks for a person)
    smalltalk: str | None = None  # the SmallTalkAct the whole message is, if any
    sentiment: float = 0.0  # [-1, 1], negative = unhappy
    sentiment_trend: float = 0.0  # negative = getting worse
    affirm: bool = False
    deny: bool = False
    pending: Frame | None = None  # the intent in progress, updated with this message
    proposed: Frame | None = None  # the classifier's intent, as a new frame from this message
    topic_article: int | None = None  # the article the conversation is on (its last answer)
    leans_on_topic: bool = False  # the wording points back at the previous turn ("is it free?")


@dataclass(frozen=True)
class ConversationState:
    """What the policy needs to know about the conversation so far."""

    bot_turns: int = 0
    customer_turns: int = 0  # before this message
    misses: int = 0  # consecutive bot turns that made no progress
    last_kind: DecisionKind | None = None
    awaiting: str | None = None  # the slot asked for, or CONFIRM_STEP


@dataclass(frozen=True)
class Decision:
    """The policy's verdict; `diagnostics` explain it and do not take part in equality."""

    kind: DecisionKind
    reason: Reason | HandoffReason
    article_id: int | None = None
    suggestions: tuple[int, ...] = ()
    intent: str | None = None
    slot: str | None = None
    handoff_reason: HandoffReason | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def progressed(self) -> bool:
        """Whether this turn moved the conversation on (a miss otherwise)."""
        return self.reason not in (
            Reason.NO_ANSWER,
            Reason.SLOT_INVALID,
            Reason.LOW_CONFIDENCE,
            Reason.EMPTY_KNOWLEDGE,
            Reason.TOO_CLOSE,
        )


# --------------------------------------------------------------------------- checks


def confident_match(signals: Signals, settings: PolicySettings) -> tuple[bool, float]:
    """Whether the best article clears the answer threshold, and its score."""
    if not signals.candidates:
        return False, 0.0
    best = signals.candidates[0].score
    return best >= settings.answer_threshold, best


def too_close(signals: Signals, settings: PolicySettings) -> tuple[bool, float]:
    """Whether the runner-up article is within the ambiguity margin of the best, and the gap."""
    if len(signals.candidates) < 2 or settings.ambiguity_margin <= 0:
        return False, 1.0
    gap = signals.candidates[0].score - signals.candidates[1].score
    return gap < settings.ambiguity_margin, gap


def routes_intent(intent: IntentSignal, settings: PolicySettings) -> bool:
    """Whether the classifier's best intent is taken: the message is one of the intents
    (`in_scope` at or above `intent_scope_threshold`) and this one is the likeliest by enough
    (`probability` at or above `intent_threshold`). The two are judged apart: their product
    turned down in-scope messages split between two close intents, and let an atypical message
    through on a confident head. A signal without the parts (stored before they existed) is
    judged on its confidence."""
    if intent.probability is None or intent.in_scope is None:
        return intent.confidence >= settings.intent_threshold
    return (
        intent.in_scope >= settings.intent_scope_threshold
        and intent.probability >= settings.intent_threshold
    )


def accepted_intent(signals: Signals, settings: PolicySettings) -> tuple[bool, float]:
    """Whether the classifier's intent is taken (`routes_intent`), and its confidence."""
    if signals.intent is None or signals.proposed is None:
        return False, 0.0
    return routes_intent(signals.intent, settings), signals.intent.confidence


def intent_beats_kb(signals: Signals, settings: PolicySettings) -> tuple[bool, float]:
    """Whether an accepted intent matches the message at least as well as the best article
    (both as calibrated probabilities); the margin. A tie goes to the intent: doing the job
    beats explaining it."""
    accepted, _ = accepted_intent(signals, settings)
    match = signals.intent.match if signals.intent else 0.0
    kb_ok, _ = confident_match(signals, settings)
    margin = match - (signals.kb_confidence if kb_ok else 0.0)
    return accepted and margin >= 0.0, margin


def named_by_identifier(signals: Signals, floor: float) -> int | None:
    """The one article among those scoring at least `floor` that holds more of the message's
    identifying terms (codes, names) than every other; None if there is no such one."""
    close = [c for c in signals.candidates if c.score >= floor]
    if not close:
        return None
    most = max(c.exact for c in close)
    holders = [c for c in close if c.exact == most]
    return holders[0].article_id if most > 0 and len(holders) == 1 else None


def on_topic_followup(signals: Signals, settings: PolicySettings) -> bool:
    """Whether the message leans on the previous turn by its wording and its best article,
    read in context, is the one the conversation is on (even below the answer threshold, as
    long as it is not too far off to suggest)."""
    if not signals.leans_on_topic or signals.topic_article is None or not signals.candidates:
        return False
    best = signals.candidates[0]
    return best.article_id == signals.topic_article and best.score >= settings.suggestion_floor


def unhappy(
    signals: Signals, state: ConversationState, settings: PolicySettings
) -> tuple[bool, float]:
    """Whether the customer's sentiment calls for a person: a low level or a falling trend."""
    if signals.sentiment <= settings.sentiment_handoff_level:
        return True, signals.sentiment
    enough = state.customer_turns + 1 >= settings.sentiment_trend_min_messages
    if enough and signals.sentiment_trend <= settings.sentiment_trend_handoff:
        return True, signals.sentiment_trend
    return False, signals.sentiment


# --------------------------------------------------------------------------- decisions


def _handoff(reason: HandoffReason, diagnostics: dict[str, Any], **extra: Any) -> Decision:
    return Decision(
        DecisionKind.HANDOFF,
        reason,
        handoff_reason=reason,
        diagnostics=diagnostics,
        **extra,
    )


def _advance(frame: Frame, diagnostics: dict[str, Any], *, started: bool) -> Decision:
    """The next step of an intent whose slots this message may have filled."""
    if frame.handoff is not None:
        return _handoff(frame.handoff, diagnostics, intent=frame.intent)
    if frame.invalid:
        return Decision(
            DecisionKind.ASK_SLOT,
            Reason.SLOT_INVALID,
            intent=frame.intent,
            slot=frame.invalid[0],
            diagnostics=diagnostics,
        )
    if frame.missing:
        return Decision(
            DecisionKind.ASK_SLOT,
            Reason.SLOT_MISSING,
            intent=frame.intent,
            slot=frame.missing[0],
            diagnostics=diagnostics,
        )
    if frame.confirm:
        return Decision(
            DecisionKind.CONFIRM,
            Reason.CONFIRM_NEEDED,
            intent=frame.intent,
            diagnostics=diagnostics,
        )
    reason = Reason.INTENT_MATCH if started else Reason.CONFIRMED
    return Decision(DecisionKind.RUN_INTENT, reason, intent=frame.intent, diagnostics=diagnostics)


def _smalltalk(act: str, diagnostics: dict[str, Any]) -> Decision:
    return Decision(DecisionKind.SMALLTALK, Reason.SMALLTALK, intent=act, diagnostics=diagnostics)


def _miss(
    state: ConversationState, settings: PolicySettings, diagnostics: dict[str, Any]
) -> Decision | None:
    """Hand off when misses have piled up; None when the bot may try again."""
    misses = state.misses + 1
    diagnostics["misses"] = misses
    if misses >= settings.max_misses:
        return _handoff(HandoffReason.REPEATED_FALLBACK, diagnostics)
    return None


def _continue_pending(
    signals: Signals, state: ConversationState, settings: PolicySettings, diagnostics: dict
) -> Decision | None:
    """The next step of the intent in progress; None when the message left it."""
    frame = signals.pending
    assert frame is not None
    if frame.changed or frame.invalid:  # a new, corrected or unacceptable slot value
        return _advance(frame, diagnostics, started=False)
    if state.awaiting == CONFIRM_STEP and signals.affirm:
        return _advance(replace(frame, confirm=False), diagnostics, started=False)
    if signals.deny:
        cancel = DecisionKind.CANCEL_INTENT
        return Decision(cancel, Reason.DECLINED, intent=frame.intent, diagnostics=diagnostics)
    if signals.smalltalk == SmallTalkAct.GOODBYE:
        return None
    kind = DecisionKind.CONFIRM if state.awaiting == CONFIRM_STEP else DecisionKind.ASK_SLOT
    slot = None if kind is DecisionKind.CONFIRM else state.awaiting
    if signals.smalltalk is not None:  # "ok", "thanks": ask again, not a miss
        return Decision(
            kind, Reason.SMALLTALK, intent=frame.intent, slot=slot, diagnostics=diagnostics
        )
    # No progress on the intent: is the customer talking about something else?
    other_intent, _ = accepted_intent(signals, settings)
    if other_intent and signals.proposed and signals.proposed.intent != frame.intent:
        return None
    if confident_match(signals, settings)[0] and not intent_beats_kb(signals, settings)[0]:
        return None
    fallback = _miss(state, settings, diagnostics)
    if fallback is not None:
        return fallback
    return Decision(kind, Reason.NO_ANSWER, intent=frame.intent, slot=slot, diagnostics=diagnostics)


def decide(signals: Signals, state: ConversationState, settings: PolicySettings) -> Decision:
    """The bot's next step for this message (see the module docstring for the rules)."""
    best_ok, best = confident_match(signals, settings)
    diagnostics: dict[str, Any] = {
        "top_score": round(best, 4),
        "kb_confidence": round(signals.kb_confidence, 4),
        "intent_confidence": round(signals.intent.confidence, 4) if signals.intent else None,
        "sentiment": round(signals.sentiment, 4),
        "sentiment_trend": round(signals.sentiment_trend, 4),
        "human_request_score": round(signals.human_request, 4),
    }
    if signals.smalltalk is not None:
        diagnostics["smalltalk"] = signals.smalltalk

    # 1. The customer asks for a person.
    modelled = signals.human_request >= settings.human_request_threshold
    # "yes please" to "Shall I refund it?" answers the question; it asks for nobody.
    confirms = state.awaiting == CONFIRM_STEP and signals.affirm and not signals.explicit_human
    if signals.smalltalk is None and not confirms and (signals.explicit_human or modelled):
        return _handoff(HandoffReason.EXPLICIT_REQUEST, diagnostics)
    proposed = signals.proposed
    if proposed is not None and proposed.handoff is HandoffReason.EXPLICIT_REQUEST:
        diagnostics["request_intent_set_aside"] = proposed.intent
        signals = replace(signals, intent=None, proposed=None)
        proposed = None

    # 2. The customer is unhappy.
    fired, measured = unhappy(signals, state, settings)
    if fired:
        diagnostics["sentiment_measured"] = round(measured, 4)
        return _handoff(HandoffReason.NEGATIVE_SENTIMENT, diagnostics)

    # 3. An intent in progress.
    if signals.pending is not None:
        step = _continue_pending(signals, state, settings, diagnostics)
        if step is not None:
            return step

    # 4. Small talk.
    if signals.smalltalk is not None:
        return _smalltalk(signals.smalltalk, diagnostics)

    # 5. A new topic: intent or article, by calibrated confidence.
    wins, margin = intent_beats_kb(signals, settings)
    diagnostics["intent_minus_kb"] = round(margin, 4)
    if wins and proposed is not None:
        if proposed.intent in SMALLTALK_ACTS:  # a folder intent that customises an act
            return _smalltalk(proposed.intent, diagnostics)
        return _advance(proposed, diagnostics, started=True)
    if on_topic_followup(signals, settings):
        # "is there interest on that?" right after the Klarna article: the conversation says
        # what "that" is, though the words alone match it weakly.
        diagnostics["topic_followup"] = True
        return Decision(
            DecisionKind.ANSWER,
            Reason.KB_MATCH,
            article_id=signals.topic_article,
            diagnostics=diagnostics,
        )
    if best_ok:
        close, gap = too_close(signals, settings)
        diagnostics["gap"] = round(gap, 4)
        if close:
            floor = signals.candidates[0].score - settings.ambiguity_margin
            options = tuple(c.article_id for c in signals.candidates if c.score >= floor)
            named = named_by_identifier(signals, floor)
            if named is not None:
                # "error E102": the one close article that holds the code the customer typed.
                diagnostics["tie_broken_by_identifier"] = True
                return Decision(
                    DecisionKind.ANSWER,
                    Reason.KB_MATCH,
                    article_id=named,
                    diagnostics=diagnostics,
                )
            if signals.topic_article in options:
                # Close neighbours, one of them the article the conversation is on: the
                # conversation says which one is meant.
                diagnostics["tie_broken_by_topic"] = True
                return Decision(
                    DecisionKind.ANSWER,
                    Reason.KB_MATCH,
                    article_id=signals.topic_article,
                    diagnostics=diagnostics,
                )
            return Decision(
                DecisionKind.CLARIFY,
                Reason.TOO_CLOSE,
                suggestions=options[: settings.clarify_suggestions],
                diagnostics=diagnostics,
            )
        return Decision(
            DecisionKind.ANSWER,
            Reason.KB_MATCH,
            article_id=signals.candidates[0].article_id,
            diagnostics=diagnostics,
        )

    # 6. Nothing fits.
    if state.last_kind is DecisionKind.CLARIFY and settings.handoff_after_failed_clarify:
        return _handoff(HandoffReason.LOW_CONFIDENCE, diagnostics)
    fallback = _miss(state, settings, diagnostics)
    if fallback is not None:
        return fallback
    suggestions = tuple(
        c.article_id for c in signals.candidates if c.score >= settings.suggestion_floor
    )[: settings.clarify_suggestions]
    reason = Reason.LOW_CONFIDENCE if signals.candidates else Reason.EMPTY_KNOWLEDGE
    return Decision(DecisionKind.CLARIFY, reason, suggestions=suggestions, diagnostics=diagnostics)


def after_action(
    decision: Decision, ok: bool, settings: PolicySettings, *, unknown: bool = False
) -> Decision:
    """The decision once its action ran: a failed action hands off with `action_failed`; one
    whose outcome is unknown (a change that may have gone through) always hands off with
    `action_outcome_unknown`, so that a person checks it before anyone tries again."""
    if ok or decision.kind is not DecisionKind.RUN_INTENT:
        return decision
    if unknown:
        return _handoff(
            HandoffReason.ACTION_OUTCOME_UNKNOWN, dict(decision.diagnostics), intent=decision.intent
        )
    if not settings.handoff_on_action_failure:
        return decision
    return _handoff(HandoffReason.ACTION_FAILED, dict(decision.diagnostics), intent=decision.intent)
