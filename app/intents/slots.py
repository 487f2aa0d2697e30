"""Reading slot values (order numbers, emails, amounts, dates...) out of customer messages.

Each slot has a type or a pattern. Values are read in a fixed order of specificity (patterns,
emails, order numbers, dates, then amounts and numbers, then free text), and a span one slot
took is hidden from the next, so "refund $25 on order 10042" gives the order 10042 and the
amount 25. Loose readings (a bare number for an amount, the whole message for a text slot) are
accepted only when the bot has just asked for that slot.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from app.intents.definitions import SlotDef, SlotType

ORDER_NUMBER = re.compile(r"(?<![\w@.-])((?:[A-Za-z]{1,4}-?)?\d{4,12})(?![\w@-])")
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?"
MONEY = re.compile(
    rf"(?:[$€£]\s?{NUMBER})|(?:{NUMBER}\s?(?:dollars?|usd|eur|euros?|gbp|pounds?)\b)", re.I
)
BARE_NUMBER = re.compile(rf"(?<![\w.]){NUMBER}(?![\w])")

SPECIFICITY = {
    SlotType.EMAIL: 1,
    SlotType.ORDER_NUMBER: 2,
    SlotType.DATE: 3,
    SlotType.CHOICE: 4,
    SlotType.AMOUNT: 5,
    SlotType.NUMBER: 6,
    SlotType.TEXT: 9,
}


@dataclass(frozen=True)
class SlotReading:
    """What a message said about one slot: a valid value, or a value that failed validation."""

    value: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class _Match:
    value: str
    span: tuple[int, int]


def _number_text(groups: tuple[str | None, ...]) -> str | None:
    whole, cents = next(
        ((groups[i], groups[i + 1]) for i in range(0, len(groups), 2) if groups[i]), (None, None)
    )
    if whole is None:
        return None
    whole = whole.replace(",", "")
    return f"{whole}.{cents}" if cents else whole


def _find_amount(text: str, *, loose: bool) -> _Match | None:
    found = MONEY.search(text)
    if found is None and loose:
        found = BARE_NUMBER.search(text)
    if found is None:
        return None
    value = _number_text(found.groups())
    return _Match(value, found.span()) if value else None


@lru_cache(maxsize=1)
def _date_search() -> Callable[..., Any]:  # dateparser ships no types
    from dateparser.search import search_dates

    return search_dates


def _find_date(text: str) -> _Match | None:
    found = _date_search()(
        text, languages=["en"], settings={"PREFER_DATES_FROM": "past", "STRICT_PARSING": False}
    )
    if not found:
        return None
    phrase, moment = found[0]
    start = text.find(phrase)
    return _Match(moment.date().isoformat(), (start, start + len(phrase)))


def _find_choice(slot: SlotDef, text: str) -> _Match | None:
    for choice in slot.choices:
        found = re.search(rf"(?<!\w){re.escape(choice)}(?!\w)", text, re.I)
        if found:
            return _Match(choice, found.span())
    return None


def _find(slot: SlotDef, text: str, *, awaited: bool) -> _Match | None:
    if slot.pattern is not None:
        found = re.search(slot.pattern, text)
        if found is None:
            return None
        value = found.group(1) if found.re.groups else found.group(0)
        return _Match(value, found.span())
    match slot.type:
        case SlotType.EMAIL:
            found = EMAIL.search(text)
            return _Match(found.group(0).lower(), found.span()) if found else None
        case SlotType.ORDER_NUMBER:
            found = ORDER_NUMBER.search(text)
            return _Match(found.group(1).upper(), found.span()) if found else None
        case SlotType.DATE:
            return _find_date(text)
        case SlotType.CHOICE:
            return _find_choice(slot, text)
        case SlotType.AMOUNT:
            return _find_amount(text, loose=awaited)
        case SlotType.NUMBER:
            if not awaited:
                return None
            found = BARE_NUMBER.search(text)
            value = _number_text(found.groups()) if found else None
            return _Match(value, found.span()) if found and value else None
        case SlotType.TEXT:
            stripped = text.strip()
            return _Match(stripped, (0, len(text))) if awaited and stripped else None
    return None


def _problem(slot: SlotDef, value: str) -> str | None:
    """Why `value` is not acceptable for `slot`, or None."""
    if slot.type in (SlotType.AMOUNT, SlotType.NUMBER) and slot.pattern is None:
        try:
            number = Decimal(value)
        except InvalidOperation:
            return slot.invalid or "That doesn't look like a number."
        if slot.min is not None and number < Decimal(str(slot.min)):
            return slot.invalid or f"It must be at least {slot.min:g}."
        if slot.max is not None and number > Decimal(str(slot.max)):
            return slot.invalid or f"It must be at most {slot.max:g}."
    if slot.max_length is not None and len(value) > slot.max_length:
        return slot.invalid or f"Please keep it under {slot.max_length} characters."
    return None


def _order(item: tuple[str, SlotDef]) -> int:
    _, slot = item
    return 0 if slot.pattern is not None else SPECIFICITY[slot.type]


def read_slots(
    slots: dict[str, SlotDef], text: str, *, awaited: str | None = None
) -> dict[str, SlotReading]:
    """The slots `text` gives a value for (valid or not); `awaited` is the slot just asked for."""
    readings: dict[str, SlotReading] = {}
    remaining = text
    for name, slot in sorted(slots.items(), key=_order):
        found = _find(slot, remaining, awaited=name == awaited)
        if found is None:
            continue
        start, end = found.span
        remaining = remaining[:start] + " " * (end - start) + remaining[end:]
        problem = _problem(slot, found.value)
        readings[name] = SlotReading(None, problem) if problem else SlotReading(found.value)
    return readings


def warm_up() -> None:
    """Load the date parser's data once (its first call takes ~150 ms)."""
    _find_date("2020-01-01")
