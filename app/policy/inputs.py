"""The policy's inputs as stored with every bot turn, and read back: `policy_input` encodes the
signals and the conversation state the policy saw as plain JSON; `signals_from` and
`state_from` rebuild them, so `python -m app replay` can decide stored turns again."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from functools import cache
from typing import Any

from app.policy.decision import (
    Candidate,
    ConversationState,
    DecisionKind,
    Frame,
    HandoffReason,
    IntentSignal,
    Signals,
)


@cache
def _field_names(kind: type) -> tuple[str, ...] | None:
    """The field names of a dataclass type; None for any other type."""
    return tuple(f.name for f in fields(kind)) if is_dataclass(kind) else None


_LEAVES = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """Dataclasses as dicts, tuples as lists, recursively: what `dataclasses.asdict` gives once
    stored as JSON, in a third of its time (it deep-copies every leaf and looks up the fields
    anew for each object, inside every turn's transaction)."""
    if isinstance(value, _LEAVES):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    kind: type = type(value)  # annotated: mypy takes type(<Any>) for unhashable
    names = _field_names(kind)
    if names is None:
        return value
    return {name: _plain(getattr(value, name)) for name in names}


def policy_input(signals: Signals, state: ConversationState) -> dict[str, Any]:
    """The policy's inputs as stored with the turn (read back by `python -m app replay`)."""
    return {"signals": _plain(signals), "state": _plain(state)}


def _frame(data: dict[str, Any] | None) -> Frame | None:
    if not data:
        return None
    handoff = data.get("handoff")
    return Frame(
        intent=data["intent"],
        slots=tuple(tuple(pair) for pair in data.get("slots", ())),
        missing=tuple(data.get("missing", ())),
        invalid=tuple(data.get("invalid", ())),
        problems=tuple(data.get("problems", ())),
        changed=bool(data.get("changed", False)),
        confirm=bool(data.get("confirm", False)),
        handoff=HandoffReason(handoff) if handoff else None,
    )


def signals_from(data: dict[str, Any]) -> Signals:
    """Signals as stored by `policy_input`."""
    intent = data.get("intent")
    return Signals(
        candidates=tuple(Candidate(**c) for c in data.get("candidates", ())),
        kb_confidence=float(data.get("kb_confidence", 0.0)),
        intent=IntentSignal(**intent) if intent else None,
        explicit_human=bool(data.get("explicit_human", False)),
        human_request=float(data.get("human_request", 0.0)),
        smalltalk=data.get("smalltalk"),
        sentiment=float(data.get("sentiment", 0.0)),
        sentiment_trend=float(data.get("sentiment_trend", 0.0)),
        affirm=bool(data.get("affirm", False)),
        deny=bool(data.get("deny", False)),
        pending=_frame(data.get("pending")),
        proposed=_frame(data.get("proposed")),
        topic_article=data.get("topic_article"),
        leans_on_topic=bool(data.get("leans_on_topic", False)),
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
