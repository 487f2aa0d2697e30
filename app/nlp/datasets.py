"""Reading labelled evaluation data: plain CSV files with a `text,label` header."""

from __future__ import annotations

import csv
from pathlib import Path

Labelled = list[tuple[str, str]]


class DatasetError(ValueError):
    """A CSV file that cannot be used, with a message naming the file and what to fix."""


def read_labelled_csv(path: Path) -> Labelled:
    """`(text, label)` rows of a CSV file whose header has `text` and `label` columns."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [name for name in ("text", "label") if name not in columns]
        if missing:
            raise DatasetError(
                f"{path}: the header must name the columns text,label "
                f"(missing: {', '.join(missing)})"
            )
        rows = [(row["text"] or "", row["label"] or "") for row in reader]
    if not rows:
        raise DatasetError(f"{path}: no rows after the header")
    for number, (text, label) in enumerate(rows, start=2):
        if not text.strip() or not label.strip():
            raise DatasetError(f"{path}, line {number}: empty text or label")
    return rows
