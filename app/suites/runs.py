"""Stored suite runs and the diff between two of them.

The last runs of each suite are kept as JSON in the data folder (`suite_runs/`, the newest
`keep` per suite): a run is a report, not state the service depends on, so it needs no table.
The diff compares a run with the suite's last run against the live knowledge (a run against
a draft never becomes the baseline): which turns went from pass to fail and back, and how
the bot's move or reply changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

RUNS_FOLDER = "suite_runs"


def _file_name(suite: str) -> str:
    readable = re.sub(r"[^a-z0-9_-]+", "-", suite.casefold()).strip("-")[:60] or "suite"
    digest = hashlib.sha256(suite.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{readable}-{digest}.json"


class RunStore:
    """The newest `keep` runs of each suite, as JSON files under `folder` (blocking: call it
    from a worker thread)."""

    def __init__(self, folder: Path, *, keep: int) -> None:
        self._folder = folder
        self._keep = keep
        self._lock = threading.Lock()

    def _path(self, suite: str) -> Path:
        return self._folder / _file_name(suite)

    def runs(self, suite: str) -> list[dict[str, Any]]:
        """The suite's stored runs, oldest first (none when it never ran or the file is
        unreadable)."""
        try:
            stored = json.loads(self._path(suite).read_text("utf-8"))
        except (OSError, ValueError):
            return []
        return [r for r in stored if isinstance(r, dict)] if isinstance(stored, list) else []

    def baseline(self, suite: str) -> dict[str, Any] | None:
        """The suite's last run against the live knowledge (no draft)."""
        return next((r for r in reversed(self.runs(suite)) if r.get("draft") is None), None)

    def save(self, run: dict[str, Any]) -> None:
        """Keep `run` (and drop the suite's oldest beyond `keep`); written whole, atomically."""
        with self._lock:
            self._folder.mkdir(parents=True, exist_ok=True)
            runs = [*self.runs(run["suite"]), run][-self._keep :]
            path = self._path(run["suite"])
            partial = path.with_suffix(".json.partial")
            partial.write_text(json.dumps(runs), "utf-8")
            os.replace(partial, path)


def _turns(run: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {
        (c["name"], t["turn"]): t for c in run.get("conversations", []) for t in c.get("turns", [])
    }


def _shown(turn: dict[str, Any]) -> dict[str, Any]:
    bot = turn.get("bot") or {}
    return {
        "passed": turn["passed"],
        "move": bot.get("move", "not run"),
        "text": bot.get("text", ""),
        "failures": turn.get("failures", []),
    }


def diff_runs(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """What changed from `previous` to `current`, turn by turn (matched by conversation name
    and turn number): `fixed` (fail → pass), `broken` (pass → fail), `changed` (same verdict,
    another move or reply text); conversations `added` and `removed`."""
    if previous is None:
        return {
            "against": None,
            "fixed": [],
            "broken": [],
            "changed": [],
            "added": [],
            "removed": [],
        }
    before, after = _turns(previous), _turns(current)
    names_before = {c["name"] for c in previous.get("conversations", [])}
    names_after = {c["name"] for c in current.get("conversations", [])}
    found: dict[str, list[dict[str, Any]]] = {"fixed": [], "broken": [], "changed": []}
    for key, turn in after.items():
        old = before.get(key)
        if old is None:
            continue
        was, now = _shown(old), _shown(turn)
        if was["passed"] and not now["passed"]:
            bucket = "broken"
        elif now["passed"] and not was["passed"]:
            bucket = "fixed"
        elif (was["move"], was["text"]) != (now["move"], now["text"]):
            bucket = "changed"
        else:
            continue
        found[bucket].append(
            {
                "conversation": key[0],
                "turn": key[1],
                "say": turn["say"],
                "before": was,
                "after": now,
            }
        )
    return {
        "against": {
            "started_at": previous.get("started_at"),
            "knowledge_revision": previous.get("knowledge_revision"),
        },
        **found,
        "added": sorted(names_after - names_before),
        "removed": sorted(names_before - names_after),
    }
