"""The turn policy: `decide(signals, state, settings) -> Decision`, pure and without I/O.

Each check returns `(fired, measured_value)` so a decision can say why it was taken; the
`Decision` carries a machine-readable reason and the diagnostics it saw (ignored by equality, so
tests compare decisions directly).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from app.policy.settings import PolicySettings


class DecisionKind(enum.StrEnum):
    """What the bot does with a customer message."""

    ANSWER = "answer"
    CLARIFY = "clarify"


class Reason(enum.StrEnum):
    """Why the policy decided what it did."""

    KB_MATCH = "kb_match"
    LOW_CONFIDENCE = "low_confidence"
    EMPTY_KNOWLEDGE = "empty_knowledge"


@dataclass(frozen=True)
class Candidate:
    """One knowledge-base article the search found, as the policy sees it."""

    article_id: int
    score: float


@dataclass(frozen=True)
class Signals:
    """What understanding the message produced (best candidates first)."""

    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class ConversationState:
    """What the policy needs to know about the conversation so far."""

    bot_turns: int = 0


@dataclass(frozen=True)
class Decision:
    """The policy's verdict; `diagnostics` explain it and do not take part in equality."""

    kind: DecisionKind
    reason: Reason
    article_id: int | None = None
    suggestions: tuple[int, ...] = ()
    diagnostics: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def confident_match(signals: Signals, settings: PolicySettings) -> tuple[bool, float]:
    """Whether the best article clears the answer threshold, and its score."""
    if not signals.candidates:
        return False, 0.0
    best = signals.candidates[0].score
    return best >= settings.answer_threshold, best


def decide(signals: Signals, state: ConversationState, settings: PolicySettings) -> Decision:
    """Answer from the best article when confident; otherwise clarify with the closest topics."""
    fired, best = confident_match(signals, settings)
    diagnostics = {"top_score": round(best, 4), "answer_threshold": settings.answer_threshold}
    if fired:
        return Decision(
            DecisionKind.ANSWER,
            Reason.KB_MATCH,
            article_id=signals.candidates[0].article_id,
            diagnostics=diagnostics,
        )
    suggestions = tuple(
        c.article_id for c in signals.candidates if c.score >= settings.suggestion_floor
    )[: settings.clarify_suggestions]
    reason = Reason.LOW_CONFIDENCE if signals.candidates else Reason.EMPTY_KNOWLEDGE
    return Decision(DecisionKind.CLARIFY, reason, suggestions=suggestions, diagnostics=diagnostics)
