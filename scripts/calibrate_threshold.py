"""Calibrates the answer threshold (answer vs "not sure") on one dataset and reports it on another.

The product answers from the top article when its score (best passage cosine, from the
product's `VectorIndex`) is >= the threshold, and otherwise says it is not sure. This script
picks that threshold where it is not evaluated:

- Calibration: CLINC150 (`<datasets>/clinc150/data_full.json`). The knowledge base has one
  article per in-scope intent (150): title = intent name with underscores as spaces, alternate
  questions = 5 training examples of the intent (`random.Random(0)`), empty body. Queries: `val`
  (3,000 in-scope, the expected article is the query's intent) and `oos_val` (100, expected:
  not answered). For each threshold 0.30..0.90 in steps of 0.01 the objective is balanced
  accuracy = 0.5 * in-scope correct-answer rate + 0.5 * OOS rejection rate (ties: the lowest
  threshold).
- Report: BANKING77-OOS (`<datasets>/banking77_oos/`), a banking support domain. Knowledge base
  built the same way from its `train` split (50 intents); queries = `test` in-scope (2,000) plus
  `id-oos/test` (1,080 in-domain unsupported intents) and `ood-oos/test` (1,000 off-topic),
  reported separately and combined. Also CLINC150 `test` + `oos_test`. The best threshold on the
  BANKING77-OOS test set itself is shown for reference only, to expose the transfer gap.

Metrics at a threshold: in-scope answer rate, correct-answer rate, precision of answers (correct
among answered in-scope), wrong-answer rate, OOS rejection rate, balanced accuracy.

Run from the repo root: `.venv/bin/python scripts/calibrate_threshold.py [--write]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from app.kb.vector_index import VectorIndex  # noqa: E402
from app.nlp.embedder import Embedder  # noqa: E402
from app.policy.settings import DEFAULT_ANSWER_THRESHOLD  # noqa: E402
from scripts.evalkit import (  # noqa: E402
    INTENT_DATASETS_HELP,
    AnswerMetrics,
    Labelled,
    add_datasets_option,
    answer_metrics,
    best_threshold,
    build_index,
    encode_batched,
    fmt,
    intent_articles,
    load_banking77_oos,
    load_clinc150,
    load_embedder,
    markdown_table,
    require_dir,
    run_details,
    threshold_grid,
    top_hits,
)
from scripts.reportkit import write_doc_section  # noqa: E402

PER_INTENT = 5
SEED = 0


@dataclass(frozen=True)
class Scored:
    """Top scores of one evaluation set: in-scope queries (with whether the top article is the
    right intent) and out-of-scope queries."""

    name: str
    in_scores: np.ndarray
    in_correct: np.ndarray
    oos_scores: np.ndarray

    def at(self, threshold: float) -> AnswerMetrics:
        """The metrics of answering at `threshold`."""
        return answer_metrics(threshold, self.in_scores, self.in_correct, self.oos_scores)

    def best(self, grid: Sequence[float]) -> AnswerMetrics:
        """The metrics at the grid threshold with the best balanced accuracy."""
        return best_threshold(grid, self.in_scores, self.in_correct, self.oos_scores)

    @property
    def top1_accuracy(self) -> float:
        """In-scope queries whose top article is their intent (answering always)."""
        return float(self.in_correct.mean())

    @property
    def size(self) -> str:
        """In-scope + OOS query counts, for the tables."""
        return f"{len(self.in_scores):,} + {len(self.oos_scores):,}"


class IntentKb:
    """The product's index over one article per intent, and how queries score against it."""

    def __init__(self, embedder: Embedder, train: Labelled) -> None:
        self.embedder = embedder
        self.intents, articles = intent_articles(train, per_intent=PER_INTENT, seed=SEED)
        self.position = {intent: i for i, intent in enumerate(self.intents)}
        self.index: VectorIndex = build_index(embedder, articles)

    def top(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each text's top article id and score."""
        return top_hits(self.index, encode_batched(self.embedder, texts))

    def in_scope(self, rows: Labelled) -> tuple[np.ndarray, np.ndarray]:
        """Top scores of in-scope queries and whether their top article is their intent."""
        ids, scores = self.top([text for text, _ in rows])
        expected = np.array([self.position[intent] for _, intent in rows])
        return scores, ids == expected

    def oos(self, rows: Labelled) -> np.ndarray:
        """Top scores of out-of-scope queries."""
        return self.top([text for text, _ in rows])[1]


def metric_row(label: str, scored: Scored, m: AnswerMetrics) -> list[str]:
    """A table row: the set, its size, the threshold and the rates."""
    return [
        label,
        scored.size,
        f"{m.threshold:.2f}",
        *rate_cells(m),
    ]


def rate_cells(m: AnswerMetrics) -> list[str]:
    """The rate columns of a table row, in HEADERS order."""
    return [
        fmt(m.answer_rate),
        fmt(m.correct_rate),
        fmt(m.precision),
        fmt(m.wrong_rate),
        fmt(m.oos_rejection),
        fmt(m.balanced_accuracy),
    ]


HEADERS = [
    "evaluation set",
    "in-scope + OOS",
    "threshold",
    "in-scope answered",
    "correct answers",
    "precision",
    "wrong answers",
    "OOS rejected",
    "balanced acc.",
]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(
        description="Choose the answer threshold on CLINC150 and report it on BANKING77-OOS.",
    )
    add_datasets_option(parser, help=INTENT_DATASETS_HELP)
    parser.add_argument(
        "--write",
        action="store_true",
        help="also rewrite the threshold section of docs/EVALUATION.md",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    clinc = load_clinc150(require_dir(args.datasets / "clinc150"))
    banking = load_banking77_oos(require_dir(args.datasets / "banking77_oos"))
    grid = threshold_grid(0.30, 0.90, 0.01)

    embedder = load_embedder()
    clinc_kb = IntentKb(embedder, clinc["train"])
    clinc_val = Scored(
        "CLINC150 val", *clinc_kb.in_scope(clinc["val"]), clinc_kb.oos(clinc["oos_val"])
    )
    clinc_test = Scored(
        "CLINC150 test", *clinc_kb.in_scope(clinc["test"]), clinc_kb.oos(clinc["oos_test"])
    )

    banking_kb = IntentKb(embedder, banking["train"])
    b_scores, b_correct = banking_kb.in_scope(banking["test"])
    id_oos = banking_kb.oos(banking["id_oos_test"])
    ood_oos = banking_kb.oos(banking["ood_oos_test"])
    b_id = Scored("BANKING77-OOS test, ID-OOS", b_scores, b_correct, id_oos)
    b_ood = Scored("BANKING77-OOS test, OOD-OOS", b_scores, b_correct, ood_oos)
    b_all = Scored(
        "BANKING77-OOS test, all OOS", b_scores, b_correct, np.concatenate([id_oos, ood_oos])
    )
    finished = time.perf_counter()

    # ---- choose on CLINC150 val
    sweep = [clinc_val.at(t) for t in grid]
    chosen = clinc_val.best(grid)
    t_star = round(chosen.threshold, 2)
    near = [m.threshold for m in sweep if m.balanced_accuracy >= chosen.balanced_accuracy - 0.01]
    evaluated = [clinc_val, clinc_test, b_id, b_ood, b_all]

    chosen_table = markdown_table(
        HEADERS,
        [
            metric_row(s.name + (" (calibration)" if s is clinc_val else ""), s, s.at(t_star))
            for s in evaluated
        ],
    )
    shipped = DEFAULT_ANSWER_THRESHOLD
    shipped_table = markdown_table(
        HEADERS, [metric_row(s.name, s, s.at(shipped)) for s in evaluated]
    )
    oracle_rows = []
    for s in (clinc_test, b_id, b_ood, b_all):
        best = s.best(grid)
        oracle_rows.append(
            [
                *metric_row(s.name, s, best),
                fmt(best.balanced_accuracy - s.at(t_star).balanced_accuracy),
            ]
        )
    oracle_table = markdown_table([*HEADERS, "gain over chosen"], oracle_rows)
    sweep_table = markdown_table(
        HEADERS[2:],  # from "threshold" on
        [
            [
                f"{m.threshold:.2f}" + (" (chosen)" if m.threshold == t_star else ""),
                *rate_cells(m),
            ]
            for m in sweep
        ],
    )
    top1 = ", ".join(
        f"{s.name.split(',')[0]} {fmt(s.top1_accuracy)}" for s in (clinc_val, clinc_test, b_all)
    )

    b_best = b_all.best(grid)
    b_gap = b_best.balanced_accuracy - b_all.at(t_star).balanced_accuracy
    details = run_details(finished - started).replace("\n", "\n  ")
    shipped_block = (
        ""
        if abs(shipped - t_star) < 1e-9
        else f"### For comparison: the shipped threshold {shipped:.2f}\n\n{shipped_table}\n\n"
    )
    section = f"""## Answer threshold (answer vs "not sure")

Generated by `scripts/calibrate_threshold.py`; do not edit by hand between the markers.

**Recommended threshold: {t_star:.2f}** (chosen on CLINC150 val; currently shipped:
`DEFAULT_ANSWER_THRESHOLD = {shipped:.2f}` in `app/policy/settings.py`).

- Knowledge base: one article per in-scope intent, title = intent name, alternate questions =
  {PER_INTENT} training examples (`random.Random({SEED})`), empty body; scored by the
  product's index (best passage cosine). The bot answers when the top score >= threshold.
- Calibration: CLINC150 val (150 intents, 3,000 in-scope queries, 100 OOS), thresholds
  0.30..0.90 in steps of 0.01, maximising balanced accuracy = 0.5 * correct-answer rate +
  0.5 * OOS rejection rate. Thresholds within 0.01 of the best balanced accuracy:
  {min(near):.2f}..{max(near):.2f} (only 100 OOS queries here, so each is worth 0.005).
- Rates: "in-scope answered", "correct answers" and "wrong answers" are fractions of the in-scope
  queries (correct + wrong = answered); "precision" = correct / answered; "OOS rejected" =
  fraction of out-of-scope queries the bot declines.
- Ceiling (top-1 intent accuracy when always answering):
  {top1}.
- Transfer: on BANKING77-OOS at {t_star:.2f} the bot declines
  {fmt(b_ood.at(t_star).oos_rejection)} of off-topic (OOD) questions but only
  {fmt(b_id.at(t_star).oos_rejection)} of in-domain questions it has no article for (ID-OOS).
  The best threshold on that test set would be {b_best.threshold:.2f}, worth {fmt(b_gap)} more
  balanced accuracy there (see the reference table).
- Run:
  {details}

### At the chosen threshold {t_star:.2f}

{chosen_table}

{shipped_block}### Reference only: the best threshold chosen on each test set itself

Not a valid estimate (tuned on the data it is scored on); it shows how much is lost by
transferring the CLINC150 threshold.

{oracle_table}

<details><summary>Full sweep on CLINC150 val (calibration set)</summary>

{sweep_table}

</details>
"""
    print(section)
    print(f"recommended threshold: {t_star:.2f}", file=sys.stderr)
    print(f"total {finished - started:.1f} s", file=sys.stderr)
    if args.write:
        write_doc_section("threshold", section)
        print("wrote the threshold section of docs/EVALUATION.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
