"""A conversation's dialogue state: the intent in progress, misses, and sentiment history.

Stored as JSON on the conversation row and updated in the same transaction as the turn that
changed it, so a crash never leaves a half-asked question. `frame_for` combines what is known of
an intent's slots with what a new message says; `advance` is the state after a decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

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


def advance(
    dialog: Dialog, decision: Decision, frame: Frame | None, sentiment: float, *, replied: bool
) -> Dialog:
    """The state after `decision` on a message scoring `sentiment` (`frame`: the intent it
    acted on, if any)."""
    history = (*dialog.sentiments, sentiment)[-SENTIMENT_HISTORY:]
    state = replace(
        dialog,
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
