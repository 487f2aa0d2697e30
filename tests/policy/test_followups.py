"""Which reading of a message the policy acts on (alone or in the conversation's context), and
how the conversation's topic settles a close call: pure functions, as a table."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.policy.decision import Candidate, ConversationState, DecisionKind, Signals, decide
from app.policy.followups import ReadingStrength, leans_on_context, points_back, prefer_context
from app.policy.settings import PolicySettings

SETTINGS = PolicySettings(answer_threshold=0.5, ambiguity_margin=0.08, suggestion_floor=0.2)
AFTER_AN_ANSWER = ConversationState(customer_turns=1, bot_turns=1, last_kind=DecisionKind.ANSWER)


@pytest.mark.parametrize(
    ("text", "leans", "points"),
    [
        ("how much does that cost?", True, True),
        ("and for express?", True, False),
        ("what about paypal?", True, False),
        ("do they expire?", True, True),
        ("is there a discount for students?", False, False),  # "is there" points at nothing
        ("how do I reset my password", False, False),
        (
            "I ordered a jacket last week and it still has not arrived, where is it now?",
            False,
            False,
        ),
    ],
)
def test_wording_that_leans_on_the_previous_turn(text: str, leans: bool, points: bool) -> None:
    assert leans_on_context(text) is leans
    assert points_back(text) is points


@pytest.mark.parametrize(
    ("alone", "context", "cue", "pointer", "expected"),
    [
        # A decisive reading alone stands: a change of topic names its own subject.
        (ReadingStrength(0.95, 0.1, decisive=True), ReadingStrength(0.93, 0.1), True, False, False),
        # ... unless a short message points back with a pronoun ("do they expire?").
        (ReadingStrength(0.80, 0.1, decisive=True), ReadingStrength(0.90, 0.1), True, True, True),
        # A weak reading alone gives way to a clearly better one in context.
        (ReadingStrength(0.40, 0.1), ReadingStrength(0.60, 0.1), False, False, True),
        (ReadingStrength(0.40, 0.1), ReadingStrength(0.42, 0.1), False, False, False),
        # With wording that leans back, a slightly weaker context reading still wins.
        (ReadingStrength(0.40, 0.1), ReadingStrength(0.35, 0.1), True, False, True),
        (ReadingStrength(0.60, 0.1), ReadingStrength(0.30, 0.1), True, False, False),
    ],
)
def test_which_reading_is_acted_on(
    alone: ReadingStrength,
    context: ReadingStrength,
    cue: bool,
    pointer: bool,
    expected: bool,
) -> None:
    chosen = prefer_context(alone, context, cue=cue, pointer=pointer, settings=SETTINGS)
    assert chosen is expected


def _signals(*scores: float, topic: int | None, leans: bool = False) -> Signals:
    return Signals(
        tuple(Candidate(article_id=i + 1, score=s) for i, s in enumerate(scores)),
        kb_confidence=scores[0],
        topic_article=topic,
        leans_on_topic=leans,
    )


def test_the_topic_settles_close_neighbours() -> None:
    close = _signals(0.64, 0.60, topic=None)
    assert decide(close, AFTER_AN_ANSWER, SETTINGS).kind is DecisionKind.CLARIFY
    decision = decide(replace(close, topic_article=2), AFTER_AN_ANSWER, SETTINGS)
    assert decision.kind is DecisionKind.ANSWER and decision.article_id == 2
    assert decision.diagnostics["tie_broken_by_topic"] is True
    # A topic outside the close ones changes nothing.
    assert decide(replace(close, topic_article=7), AFTER_AN_ANSWER, SETTINGS).kind is (
        DecisionKind.CLARIFY
    )


def test_a_follow_up_pointing_at_the_topic_is_answered_below_the_threshold() -> None:
    weak = _signals(0.35, 0.30, topic=1, leans=True)
    decision = decide(weak, AFTER_AN_ANSWER, SETTINGS)
    assert decision.kind is DecisionKind.ANSWER and decision.article_id == 1
    # Not without wording that leans back, not for another article, not when far off.
    assert decide(replace(weak, leans_on_topic=False), AFTER_AN_ANSWER, SETTINGS).kind is (
        DecisionKind.CLARIFY
    )
    assert decide(replace(weak, topic_article=2), AFTER_AN_ANSWER, SETTINGS).kind is (
        DecisionKind.CLARIFY
    )
    far = _signals(0.15, 0.10, topic=1, leans=True)
    assert decide(far, AFTER_AN_ANSWER, SETTINGS).kind is DecisionKind.CLARIFY
