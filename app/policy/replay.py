"""Replaying the policy over stored turns with other thresholds (`python -m app replay`).

Every bot reply stores the policy's inputs (`meta.policy_input`: the signals and the state it
saw). Replaying runs `decide` on them with the current settings and with the changed ones and
reports what would differ: decisions by kind, handoff rate by reason, and the turns that flip.
Each turn is replayed against the state it really had: a changed decision would also have
changed later turns, which a replay cannot know, so read the figures as first-order effects.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.conversations.models import Author, Message
from app.policy.decision import (
    Candidate,
    ConversationState,
    Decision,
    DecisionKind,
    Frame,
    HandoffReason,
    IntentSignal,
    Signals,
    after_action,
    decide,
)
from app.policy.settings import PolicySettings


@dataclass(frozen=True)
class StoredTurn:
    """One stored bot reply with the policy's inputs."""

    conversation_id: str
    seq: int
    signals: Signals
    state: ConversationState
    action_ok: bool | None


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


def _frame(data: dict[str, Any] | None) -> Frame | None:
    if not data:
        return None
    handoff = data.get("handoff")
    return Frame(
        intent=data["intent"],
        slots=tuple(tuple(pair) for pair in data.get("slots", ())),  # type: ignore[misc]
        missing=tuple(data.get("missing", ())),
        invalid=tuple(data.get("invalid", ())),
        problems=tuple(data.get("problems", ())),
        changed=bool(data.get("changed", False)),
        confirm=bool(data.get("confirm", False)),
        handoff=HandoffReason(handoff) if handoff else None,
    )


def signals_from(data: dict[str, Any]) -> Signals:
    """Signals as stored by `app.conversations.planning.policy_input`."""
    intent = data.get("intent")
    return Signals(
        candidates=tuple(Candidate(**c) for c in data.get("candidates", ())),
        kb_confidence=float(data.get("kb_confidence", 0.0)),
        intent=IntentSignal(**intent) if intent else None,
        explicit_human=bool(data.get("explicit_human", False)),
        sentiment=float(data.get("sentiment", 0.0)),
        sentiment_trend=float(data.get("sentiment_trend", 0.0)),
        affirm=bool(data.get("affirm", False)),
        deny=bool(data.get("deny", False)),
        pending=_frame(data.get("pending")),
        proposed=_frame(data.get("proposed")),
    )


def state_from(data: dict[str, Any]) -> ConversationState:
    """A conversation state as stored."""
    last = data.get("last_kind")
    return ConversationState(
        bot_turns=int(data.get("bot_turns", 0)),
        customer_turns=int(data.get("customer_turns", 0)),
        misses=int(data.get("misses", 0)),
        last_kind=DecisionKind(last) if last else None,
        awaiting=data.get("awaiting"),
    )


def load_turns(conn: Connection, *, since: datetime) -> list[StoredTurn]:
    """Bot replies stored since `since` that carry the policy's inputs, oldest first."""
    rows = conn.execute(
        select(Message.conversation_id, Message.seq, Message.meta)
        .where(Message.author == Author.BOT, Message.created_at >= since)
        .order_by(Message.created_at, Message.seq)
    )
    turns = []
    for conversation_id, seq, meta in rows:
        stored = (meta or {}).get("policy_input")
        if not stored:
            continue
        action = (meta or {}).get("action")
        turns.append(
            StoredTurn(
                conversation_id=conversation_id,
                seq=seq,
                signals=signals_from(stored["signals"]),
                state=state_from(stored["state"]),
                action_ok=action.get("ok") if action else None,
            )
        )
    return turns


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


def _decide(turn: StoredTurn, settings: PolicySettings) -> Decision:
    decision = decide(turn.signals, turn.state, settings)
    if turn.action_ok is not None:
        decision = after_action(decision, turn.action_ok, settings)
    return decision


def replay(turns: list[StoredTurn], base: PolicySettings, changed: PolicySettings) -> ReplayReport:
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
