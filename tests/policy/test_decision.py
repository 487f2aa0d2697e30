"""The turn policy as a decision table, plus its pinned defaults."""

from __future__ import annotations

import pytest

from app.policy.decision import (
    Candidate,
    ConversationState,
    Decision,
    DecisionKind,
    Reason,
    Signals,
    decide,
)
from app.policy.settings import DEFAULT_ANSWER_THRESHOLD, PolicySettings

SETTINGS = PolicySettings(answer_threshold=0.6, clarify_suggestions=2, suggestion_floor=0.2)


def _signals(*scores: float) -> Signals:
    return Signals(tuple(Candidate(article_id=i + 1, score=s) for i, s in enumerate(scores)))


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        pytest.param(
            _signals(0.9, 0.5),
            Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1),
            id="confident-answer",
        ),
        pytest.param(
            _signals(0.6),
            Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1),
            id="exactly-at-threshold-answers",
        ),
        pytest.param(
            _signals(0.59, 0.5, 0.4),
            Decision(DecisionKind.CLARIFY, Reason.LOW_CONFIDENCE, suggestions=(1, 2)),
            id="below-threshold-clarifies-with-top-suggestions",
        ),
        pytest.param(
            _signals(0.3, 0.19, 0.1),
            Decision(DecisionKind.CLARIFY, Reason.LOW_CONFIDENCE, suggestions=(1,)),
            id="far-off-articles-are-not-suggested",
        ),
        pytest.param(
            _signals(0.1),
            Decision(DecisionKind.CLARIFY, Reason.LOW_CONFIDENCE, suggestions=()),
            id="nothing-close",
        ),
        pytest.param(
            Signals(),
            Decision(DecisionKind.CLARIFY, Reason.EMPTY_KNOWLEDGE),
            id="empty-knowledge-base",
        ),
    ],
)
def test_decision_table(signals: Signals, expected: Decision) -> None:
    assert decide(signals, ConversationState(), SETTINGS) == expected


def test_decision_explains_itself() -> None:
    decision = decide(_signals(0.42), ConversationState(), SETTINGS)
    assert decision.diagnostics == {"top_score": 0.42, "answer_threshold": 0.6}


def test_diagnostics_do_not_take_part_in_equality() -> None:
    a = Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1, diagnostics={"x": 1})
    b = Decision(DecisionKind.ANSWER, Reason.KB_MATCH, article_id=1, diagnostics={"x": 2})
    assert a == b


def test_defaults_are_pinned() -> None:
    defaults = PolicySettings()
    assert defaults.answer_threshold == DEFAULT_ANSWER_THRESHOLD
    assert defaults.clarify_suggestions == 3
    assert defaults.suggestion_floor == 0.2
