"""The text report of a suite run, as `python -m app test conversations` prints it: one row
per conversation, the reason for each failed turn, and the totals per category."""

from __future__ import annotations

from typing import Any


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [_row(header, widths), _row(["-" * w for w in widths], widths)] + [
        _row(r, widths) for r in rows
    ]


def format_run(run: dict[str, Any]) -> str:
    """The report of `run` (a `SuiteRun.as_dict()`)."""
    lines: list[str] = []
    rows = []
    for c in run["conversations"]:
        passed = sum(t["passed"] for t in c["turns"])
        rows.append(
            [
                "PASS" if c["passed"] else "FAIL",
                c["category"],
                f"{passed}/{len(c['turns'])}",
                c["name"],
            ]
        )
    lines += _table(["result", "category", "turns", "conversation"], rows)
    failed = [c for c in run["conversations"] if not c["passed"]]
    if failed:
        lines += ["", "Failures:"]
        for c in failed:
            for t in c["turns"]:
                for reason in t["failures"]:
                    lines.append(f"  {c['name']} · turn {t['turn']} ({t['say']!r}): {reason}")
    lines += [""]
    by_category = run["by_category"]
    lines += _table(
        ["category", "conversations passed", "turns passed"],
        [
            [
                name,
                f"{row['passed']}/{row['conversations']}",
                f"{row['turns_passed']}/{row['turns']}",
            ]
            for name, row in by_category.items()
        ],
    )
    total = run["summary"]
    draft = f", draft {run['draft']['slug']!r} as if published" if run["draft"] else ""
    lines += [
        "",
        f"{run['suite']}: {total['passed']}/{total['conversations']} conversations passed, "
        f"{total['turns_passed']}/{total['turns']} turns, in {run['seconds']:.1f}s "
        f"(knowledge revision {run['knowledge_revision']}{draft})",
    ]
    return "\n".join(lines)
