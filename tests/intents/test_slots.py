"""Reading slot values out of customer messages, and the yes/no/person recognisers."""

from __future__ import annotations

import pytest

from app.intents.builtin import asks_for_human, is_affirmation, is_denial
from app.intents.definitions import SlotDef, SlotType
from app.intents.slots import SlotReading, read_slots

ORDER = SlotDef(type=SlotType.ORDER_NUMBER, prompt="Which order?")
EMAIL = SlotDef(type=SlotType.EMAIL, prompt="Email?")
AMOUNT = SlotDef(type=SlotType.AMOUNT, prompt="How much?", max=500)
DATE = SlotDef(type=SlotType.DATE, prompt="When?")
SIZE = SlotDef(type=SlotType.CHOICE, prompt="Size?", choices=("small", "medium", "large"))
NOTE = SlotDef(type=SlotType.TEXT, prompt="Anything else?")
CODE = SlotDef(pattern=r"\b([A-Z]{3}\d{2})\b", prompt="Code?")


@pytest.mark.parametrize(
    ("slots", "text", "awaited", "expected"),
    [
        ({"order": ORDER}, "where is order ls-10042?", None, {"order": SlotReading("LS-10042")}),
        ({"order": ORDER}, "status of 10043 please", None, {"order": SlotReading("10043")}),
        ({"order": ORDER}, "where is my order", None, {}),
        (
            {"email": EMAIL},
            "it's Sam.Lee+shop@Example.com thanks",
            None,
            {"email": SlotReading("sam.lee+shop@example.com")},
        ),
        ({"email": EMAIL}, "sam at example dot com", "email", {}),
        (
            {"order": ORDER, "amount": AMOUNT},
            "refund $25.50 on order 10042",
            None,
            {"order": SlotReading("10042"), "amount": SlotReading("25.50")},
        ),
        ({"amount": AMOUNT}, "40", None, {}),
        ({"amount": AMOUNT}, "40", "amount", {"amount": SlotReading("40")}),
        (
            {"amount": AMOUNT},
            "$1,200",
            None,
            {"amount": SlotReading(None, "It must be at most 500.")},
        ),
        ({"when": DATE}, "it arrived on 2026-11-02", None, {"when": SlotReading("2026-11-02")}),
        ({"size": SIZE}, "the Large one please", None, {"size": SlotReading("large")}),
        ({"note": NOTE}, "leave it at the door", None, {}),
        (
            {"note": NOTE},
            "leave it at the door",
            "note",
            {"note": SlotReading("leave it at the door")},
        ),
        ({"code": CODE}, "my code is ABC12", None, {"code": SlotReading("ABC12")}),
    ],
)
def test_read_slots(
    slots: dict[str, SlotDef], text: str, awaited: str | None, expected: dict[str, SlotReading]
) -> None:
    assert read_slots(slots, text, awaited=awaited) == expected


@pytest.mark.parametrize(
    "text",
    [
        "let me talk to a human",
        "agent please",
        "I want a real person",
        "Can I speak with someone?",
        "transfer me to customer service",
        "I don't want to talk to a bot",
        "HUMAN",
    ],
)
def test_requests_for_a_person(text: str) -> None:
    assert asks_for_human(text)


@pytest.mark.parametrize(
    "text", ["where is my order", "is this a real leather bag", "how do your agents handle returns"]
)
def test_not_requests_for_a_person(text: str) -> None:
    assert not asks_for_human(text)


@pytest.mark.parametrize(
    ("text", "yes", "no"),
    [
        ("yes", True, False),
        ("Yes please, go ahead", True, False),
        ("sure", True, False),
        ("no", False, True),
        ("No, it's order LS-10043", False, True),
        ("never mind", False, True),
        ("what does that mean?", False, False),
    ],
)
def test_yes_and_no(text: str, yes: bool, no: bool) -> None:
    assert (is_affirmation(text), is_denial(text)) == (yes, no)
