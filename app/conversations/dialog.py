"""A conversation's dialogue state: the intent in progress, misses, sentiment history, and the
topic the conversation is on (for reading follow-ups).

Stored as JSON on the conversation row and updated in the same transaction as the turn that
changed it, so a crash never leaves a half-asked question. `frame_for` combines what is known of
an intent's slots with what a new message says; `advance` is the state after a decision.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from app.intents.definitions import HandoffAction, IntentDef
from app.intents.slots import SlotReading
from app.policy.decision import (
    CONFIRM_STEP,
    ConversationState,
    Decision,
    DecisionKind,
    Frame,
    HandoffReason,
)

SENTIMENT_HISTORY = 10
# Decisions that put the conversation on a topic: the vector they acted on becomes the topic.
# Small talk, handoffs and cancellations leave the topic as it was.
TOPIC_KINDS = frozenset(
    {
        DecisionKind.ANSWER,
        DecisionKind.CLARIFY,
        DecisionKind.RUN_INTENT,
        DecisionKind.ASK_SLOT,
        DecisionKind.CONFIRM,
    }
)


def pack_vector(vector: np.ndarray) -> str:
    """A unit vector as stored in the dialogue state: float16, base64 (768 bytes for 384-d)."""
    return base64.b64encode(np.asarray(vector, np.float16).tobytes()).decode("ascii")


def unpack_vector(packed: str | None) -> np.ndarray | None:
    """The stored topic vector as float32, renormalised; None if absent or unreadable."""
    if not packed:
        return None
    try:
        vector = np.frombuffer(base64.b64decode(packed, validate=True), np.float16)
    except (ValueError, TypeError):
        return None
    vector = vector.astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 and np.isfinite(norm) else None


@dataclass(frozen=True)
class Dialog:
    """What the bot remembers between turns (persisted as JSON)."""

    intent: str | None = None  # the intent in progress
    slots: dict[str, str] = field(default_factory=dict)  # its slot values so far
    awaiting: str | None = None  # the slot asked for, or CONFIRM_STEP
    misses: int = 0
    last_kind: str | None = None
    sentiments: tuple[float, ...] = ()  # the last customer messages' scores, oldest first
    customer_turns: int = 0
    bot_turns: int = 0
    topic: str | None = None  # the packed vector of the reading the last topical turn used
    topic_article: int | None = None  # the article that turn answered from
    topic_intent: str | None = None  # the intent that turn ran or asked for
    topic_slots: dict[str, str] = field(default_factory=dict)  # that intent's slot values

    @property
    def topic_vector(self) -> np.ndarray | None:
        """The conversation's topic as a unit vector (None before any topical turn)."""
        return unpack_vector(self.topic)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Dialog:
        """Read a stored state (missing keys take their defaults)."""
        if not data:
            return cls()
        return cls(
            intent=data.get("intent"),
            slots={str(k): str(v) for k, v in (data.get("slots") or {}).items()},
            awaiting=data.get("awaiting"),
            misses=int(data.get("misses", 0)),
            last_kind=data.get("last_kind"),
            sentiments=tuple(float(s) for s in data.get("sentiments", ())),
            customer_turns=int(data.get("customer_turns", 0)),
            bot_turns=int(data.get("bot_turns", 0)),
            topic=data.get("topic") if isinstance(data.get("topic"), str) else None,
            topic_article=_int_or_none(data.get("topic_article")),
            topic_intent=data.get("topic_intent"),
            topic_slots={str(k): str(v) for k, v in (data.get("topic_slots") or {}).items()},
        )

    def to_json(self) -> dict[str, Any]:
        """The state as stored (built by hand: `dataclasses.asdict` deep-copies recursively
        and showed up in every turn's transaction)."""
        return {
            "intent": self.intent,
            "slots": dict(self.slots),
            "awaiting": self.awaiting,
            "misses": self.misses,
            "last_kind": self.last_kind,
            "sentiments": [round(s, 4) for s in self.sentiments],
            "customer_turns": self.customer_turns,
            "bot_turns": self.bot_turns,
            "topic": self.topic,
            "topic_article": self.topic_article,
            "topic_intent": self.topic_intent,
            "topic_slots": dict(self.topic_slots),
        }

    def policy_state(self) -> ConversationState:
        """What the policy reads of this state."""
        kinds = {kind.value for kind in DecisionKind}
        last = DecisionKind(self.last_kind) if self.last_kind in kinds else None
        return ConversationState(
            bot_turns=self.bot_turns,
            customer_turns=self.customer_turns,
            misses=self.misses,
            last_kind=last,
            awaiting=self.awaiting if self.intent else None,
        )


def frame_for(intent: IntentDef, known: dict[str, str], readings: dict[str, SlotReading]) -> Frame:
    """The intent's frame once `readings` (this message) are applied to the `known` slots."""
    slots = dict(known)
    changed = False
    invalid: list[str] = []
    problems: list[str] = []
    for name, reading in readings.items():
        if reading.value is not None:
            changed = changed or slots.get(name) != reading.value
            slots[name] = reading.value
        elif reading.problem is not None:
            invalid.append(name)
            problems.append(reading.problem)
    handoff = (
        HandoffReason(intent.action.reason) if isinstance(intent.action, HandoffAction) else None
    )
    return Frame(
        intent=intent.name,
        slots=tuple((name, slots[name]) for name in intent.slots if name in slots),
        missing=tuple(name for name in intent.slots if name not in slots),
        invalid=tuple(invalid),
        problems=tuple(problems),
        changed=changed,
        confirm=intent.confirm is not None,
        handoff=handoff,
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _on_topic(
    dialog: Dialog, decision: Decision, frame: Frame | None, vector: np.ndarray | None
) -> Dialog:
    """`dialog` with the topic `decision` put the conversation on (unchanged for small talk,
    handoffs and cancellations, or without a vector)."""
    if vector is None or decision.kind not in TOPIC_KINDS:
        return dialog
    slots = dict(frame.slots) if frame is not None and frame.intent == decision.intent else {}
    return replace(
        dialog,
        topic=pack_vector(vector),
        topic_article=decision.article_id,
        topic_intent=decision.intent,
        topic_slots=slots if decision.intent else {},
    )


def advance(
    dialog: Dialog,
    decision: Decision,
    frame: Frame | None,
    sentiment: float,
    *,
    replied: bool,
    vector: np.ndarray | None = None,
) -> Dialog:
    """The state after `decision` on a message scoring `sentiment` (`frame`: the intent it
    acted on, if any; `vector`: the reading it acted on, which becomes the topic)."""
    history = (*dialog.sentiments, sentiment)[-SENTIMENT_HISTORY:]
    state = replace(
        _on_topic(dialog, decision, frame, vector),
        misses=0 if decision.progressed else dialog.misses + 1,
        last_kind=decision.kind.value,
        sentiments=history,
        customer_turns=dialog.customer_turns + 1,
        bot_turns=dialog.bot_turns + (1 if replied else 0),
    )
    if decision.kind in (DecisionKind.ASK_SLOT, DecisionKind.CONFIRM) and frame is not None:
        awaiting = decision.slot if decision.kind is DecisionKind.ASK_SLOT else CONFIRM_STEP
        return replace(state, intent=frame.intent, slots=dict(frame.slots), awaiting=awaiting)
    return replace(state, intent=None, slots={}, awaiting=None)
