"""Cells of the CSV files the product writes, made safe for spreadsheets (CSV injection).

A cell whose text starts with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets. Every CSV the product writes (the analytics
export, the knowledge-base export) passes its text cells through `escape_formula`, which puts
a `'` in front: spreadsheets show the text as typed. `unescape_formula` undoes it exactly, so
a knowledge-base export re-imports unchanged (a text that already starts with `'`s before a
formula character gets one more, and loses one on the way back).
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _formula_like(text: str) -> bool:
    """Whether `text`, after any leading `'`s, starts as a formula would."""
    return text.lstrip("'")[:1] in FORMULA_STARTS


def escape_formula(text: str) -> str:
    """`text` as a cell no spreadsheet runs: `'` in front of a formula-like start."""
    return "'" + text if _formula_like(text) else text


def unescape_formula(text: str) -> str:
    """The text `escape_formula` was given for this cell."""
    return text[1:] if text.startswith("'") and _formula_like(text) else text
