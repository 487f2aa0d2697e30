"""Replaying the policy over stored turns with other thresholds (`python -m app replay`).

Every bot reply stores the policy's inputs (`meta.policy_input`: the signals and the state it
saw). Replaying runs `decide` on them with the current settings and with the changed ones and
reports what would differ: decisions by kind, handoff rate by reason, and the turns that flip.
The stored turns are loaded by `app.conversations.recorded.load_turns`; this module only decides.
Each turn is replayed against the state it really had: a changed decision would also have
changed later turns, which a replay cannot know, so read the figures as first-order effects.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.policy.decision import (
    ConversationState,
    Decision,
    DecisionKind,
    Signals,
    after_action,
    decide,
)
from app.policy.settings import PolicySettings


@dataclass(frozen=True)
class RecordedTurn:
    """One stored bot reply with the policy's inputs."""

    conversation_id: str
    seq: int
    signals: Signals
    state: ConversationState
    action_ok: bool | None
    action_unknown: bool = False  # the action's outcome was unknown (see `after_action`)


@dataclass
class ReplayReport:
    """How decisions change under other settings."""

    turns: int = 0
    before: Counter[str] = field(default_factory=Counter)
    after: Counter[str] = field(default_factory=Counter)
    flips: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, *, examples: int = 20) -> dict[str, Any]:
        """The report as JSON-ready data (at most `examples` flips listed)."""
        return {
            "turns": self.turns,
            "before": dict(self.before),
            "after": dict(self.after),
            "flipped": len(self.flips),
            "flips": self.flips[:examples],
        }


def parse_overrides(pairs: list[str], base: PolicySettings) -> PolicySettings:
    """`base` with `key=value` pairs applied and validated (ValueError names what to fix)."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: write it as key=value")
        if key not in PolicySettings.model_fields:
            known = ", ".join(sorted(PolicySettings.model_fields))
            raise ValueError(f"--set {key}: not a policy setting (known: {known})")
        values[key] = value
    try:
        return PolicySettings.model_validate({**base.model_dump(), **values})
    except ValidationError as exc:
        raise ValueError(str(exc)) from exc


def _label(decision: Decision) -> str:
    if decision.kind is DecisionKind.HANDOFF and decision.handoff_reason:
        return f"handoff:{decision.handoff_reason.value}"
    return decision.kind.value


def _decide(turn: RecordedTurn, settings: PolicySettings) -> Decision:
    decision = decide(turn.signals, turn.state, settings)
    if turn.action_ok is not None:
        decision = after_action(decision, turn.action_ok, settings, unknown=turn.action_unknown)
    return decision


def replay(
    turns: list[RecordedTurn], base: PolicySettings, changed: PolicySettings
) -> ReplayReport:
    """Decide every turn under `base` and `changed`; count and list the differences."""
    report = ReplayReport()
    for turn in turns:
        before, after = _decide(turn, base), _decide(turn, changed)
        report.turns += 1
        report.before[_label(before)] += 1
        report.after[_label(after)] += 1
        if before != after:
            report.flips.append(
                {
                    "conversation_id": turn.conversation_id,
                    "seq": turn.seq,
                    "before": _label(before),
                    "after": _label(after),
                    "top_score": before.diagnostics.get("top_score"),
                    "intent_confidence": before.diagnostics.get("intent_confidence"),
                    "sentiment": before.diagnostics.get("sentiment"),
                }
            )
    return report
