"""The conversation suites through the product's own suite runner: the demo-store suite (tuned
on) and the held-out suite (never tuned on), each run by `python -m app test conversations
<folder> --json` on the shipped demo store, reported by category (conversations and turns
passed) and with what the failed turns did instead.

    python scripts/eval_conversations.py [--write]

`--write` rewrites the `conversation_suites` section of docs/EVALUATION.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "scripts"))

from reportkit import ran_on, write_doc_section  # noqa: E402

SUITES = [
    ("demo store (tuned on)", REPO_ROOT / "tests" / "suites" / "demo_store"),
    ("held out (never tuned on)", REPO_ROOT / "tests" / "suites" / "held_out"),
]


def run_suite(folder: Path) -> dict[str, Any]:
    """The JSON report of `python -m app test conversations folder` (a fresh data folder)."""
    with tempfile.TemporaryDirectory(prefix="sb-suites-") as scratch:
        out = Path(scratch) / "run.json"
        env = {
            **os.environ,
            "SWITCHBOARD_DATA_DIR": str(Path(scratch) / "data"),
            "SWITCHBOARD_RATE_LIMITS__ENABLED": "false",
        }
        subprocess.run(
            [sys.executable, "-m", "app", "test", "conversations", str(folder), "--json", str(out)],
            cwd=REPO_ROOT,
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
        )
        return json.loads(out.read_text("utf-8"))  # type: ignore[no-any-return]


def _misses(report: dict[str, Any]) -> Counter[str]:
    """What the failed turns did instead (their move's kind and reason)."""
    moves: Counter[str] = Counter()
    for conversation in report["conversations"]:
        for turn in conversation["turns"]:
            if turn.get("passed", True):
                continue
            bot = turn.get("bot") or {}
            reason = bot.get("handoff_reason") or (bot.get("diagnostics") or {}).get("reason")
            moves[f"{bot.get('kind', 'not run')} ({reason})"] += 1
    return moves


def section(reports: list[tuple[str, dict[str, Any]]], seconds: float) -> str:
    lines = [
        "## Conversation suites (`scripts/eval_conversations.py`)",
        "",
        "Conversations written for the project in the suite format (tests/suites/), run by the",
        "product's own runner (`python -m app test conversations`) on the shipped demo store:",
        "every turn goes through the service's turn pipeline on a scratch database, HTTP",
        "intents not called. The demo-store suite is the one the follow-up settings were",
        "chosen on; the held-out suite was written apart from the code and is never tuned on.",
        "A turn passes when every expectation it states holds; a conversation when all its",
        "turns do.",
        "",
    ]
    categories = sorted({c for _, r in reports for c in r["by_category"]})
    header = "| category | " + " | ".join(f"{name}: conversations | turns" for name, _ in reports)
    lines += [header + " |", "|:---|" + "---:|---:|" * len(reports)]
    for category in categories:
        cells = []
        for _, report in reports:
            row = report["by_category"].get(category)
            if row is None:
                cells.append("- | -")
            else:
                cells.append(
                    f"{row['passed']}/{row['conversations']} | {row['turns_passed']}/{row['turns']}"
                )
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    totals = []
    for _, report in reports:
        s = report["summary"]
        totals.append(
            f"**{s['passed']}/{s['conversations']}** | **{s['turns_passed']}/{s['turns']} "
            f"({s['turns_passed'] / max(1, s['turns']):.0%})**"
        )
    lines += ["| **all** | " + " | ".join(totals) + " |", ""]
    for name, report in reports:
        top = ", ".join(f"{move}: {n}" for move, n in _misses(report).most_common(6))
        lines.append(f"- Failed turns of the {name} suite did instead: {top}.")
    lines += [
        "",
        f"{ran_on('python scripts/eval_conversations.py --write')}; {seconds:.0f} s (two runs "
        "of the command, each loading the model).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the docs section")
    args = parser.parse_args()
    began = time.perf_counter()
    reports = [(name, run_suite(folder)) for name, folder in SUITES]
    text = section(reports, time.perf_counter() - began)
    print(text)
    if args.write:
        write_doc_section("conversation_suites", text)


if __name__ == "__main__":
    main()
