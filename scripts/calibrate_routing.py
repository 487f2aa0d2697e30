"""Choose the two intent-routing thresholds on calibration splits, never on a reported one.

    python scripts/calibrate_routing.py [--datasets ../shared/datasets] [--write]

Routing an intent asks two questions (app/policy/decision.py, `routes_intent`): is the message
one of the intents at all (`intent_scope_threshold` on the classifier's in-scope score), and is
the best intent the likely one (`intent_threshold` on P(intent | in scope)). One pair of
shipped defaults must serve every intents folder, so both are chosen on two calibration splits
of different kinds, as the service fits them (the built-in `talk_to_human` examples included):

- CLINC150: fitted on train, measured on val (3,000 in scope + 100 out of scope);
- BANKING77: fitted on four fifths of train (stratified, seed 0), measured on the other fifth
  (no out-of-scope rows: it says what rejection costs a fine-grained in-scope set).

The scope threshold is the smallest grid value whose out-of-scope recall on CLINC150 val reaches
`--target-recall` (0.92: what the single-number rule it replaced, P x in-scope >= 0.5, reached
there, so that out-of-scope messages are routed no more often than before; val's 100
out-of-scope rows are fewer and easier than a real stream's), so that as few in-scope messages
as that allows are turned away; the probability threshold then minimises
`wrong_cost x routed-wrong + asked-back` summed over both splits (a wrong action costs more than
a question back). The test splits are reported by `scripts/eval_served.py`, through the API.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from app.config import Settings  # noqa: E402
from app.evaluation.retrieval import encode_texts, load_embedder  # noqa: E402
from app.intents.builtin import HUMAN_EXAMPLES, HUMAN_INTENT  # noqa: E402
from app.nlp.intent_classifier import IntentClassifier  # noqa: E402
from app.policy.calibration import kb_confidence  # noqa: E402
from scripts.evalkit import (  # noqa: E402
    Labelled,
    add_datasets_option,
    load_clinc150,
    markdown_table,
    require_dir,
)
from scripts.reportkit import EVALUATION, publish, ran_on  # noqa: E402

OOS = "oos"
SCOPE_GRID = [round(0.05 * i, 2) for i in range(0, 20)]
PROBABILITY_GRID = [round(0.05 * i, 2) for i in range(0, 20)]
HELD_FRACTION = 5  # one in this many BANKING77 train rows per intent is held out


@dataclass(frozen=True)
class Parts:
    """Per row: whether its top intent is the label, P(top | in scope), the in-scope score,
    and whether the row is out of scope."""

    right: np.ndarray
    probability: np.ndarray
    in_scope: np.ndarray
    oos: np.ndarray

    def rates(self, scope: float, probability: float) -> tuple[float, float, float, float]:
        """Routed-right, routed-wrong, asked-back (in-scope shares) and OOS recall."""
        routed = (self.in_scope >= scope) & (self.probability >= probability)
        ins = ~self.oos
        right = float((routed & self.right & ins).sum() / ins.sum())
        wrong = float((routed & ~self.right & ins).sum() / ins.sum())
        recall = float((~routed & self.oos).sum() / self.oos.sum()) if self.oos.any() else 1.0
        return right, wrong, 1.0 - right - wrong, recall


def parts(settings: Settings, embedder: object, train: Labelled, held: Labelled) -> Parts:
    """Fit as the service does on `train` (plus the built-in talk_to_human) and read `held`."""
    fit = [(t, label) for t, label in train if label != OOS]
    fit += [(t, HUMAN_INTENT) for t in HUMAN_EXAMPLES]
    texts = [t for t, _ in fit]
    classifier = IntentClassifier.fit(
        encode_texts(embedder, texts),  # type: ignore[arg-type]
        [label for _, label in fit],
        texts=texts,
    )
    held_texts = [t for t, _ in held]
    guesses = classifier.predict(
        encode_texts(embedder, held_texts),  # type: ignore[arg-type]
        threshold=0.0,
        calibrate=lambda score: kb_confidence(score, settings.policy),
        texts=held_texts,
    )
    truth = np.asarray([label for _, label in held])
    return Parts(
        right=np.asarray([g.ranked[0][0] for g in guesses]) == truth,
        probability=np.asarray([g.ranked[0][1] for g in guesses]),
        in_scope=np.asarray([g.in_scope for g in guesses]),
        oos=truth == OOS,
    )


def banking_split(rows: Labelled) -> tuple[Labelled, Labelled]:
    """Four fifths of each intent's rows to fit on, one fifth held out (seed 0)."""
    rng = np.random.default_rng(0)
    labels = np.asarray([label for _, label in rows])
    held = np.zeros(len(rows), dtype=bool)
    for label in sorted(set(labels)):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        held[members[: len(members) // HELD_FRACTION]] = True
    return [r for r, h in zip(rows, held, strict=True) if not h], [
        r for r, h in zip(rows, held, strict=True) if h
    ]


def choose(
    clinc: Parts, banking: Parts, *, target_recall: float, wrong_cost: float
) -> tuple[float, float]:
    """The (scope, probability) thresholds, as the module docstring says."""
    reaching = [s for s in SCOPE_GRID if clinc.rates(s, 0.0)[3] >= target_recall]
    scope = min(reaching) if reaching else SCOPE_GRID[-1]

    def cost(probability: float) -> float:
        total = 0.0
        for split in (clinc, banking):
            _, wrong, asked, _ = split.rates(scope, probability)
            total += wrong_cost * wrong + asked
        return total

    return scope, min(PROBABILITY_GRID, key=lambda p: (cost(p), p))


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _read_csv(path: Path) -> Labelled:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_datasets_option(parser)
    parser.add_argument("--target-recall", type=float, default=0.92, help="see the docstring")
    parser.add_argument("--wrong-cost", type=float, default=2.0, help="see the docstring")
    parser.add_argument("--write", action="store_true", help="write docs/EVALUATION.md")
    args = parser.parse_args(argv)

    settings = Settings()
    embedder = load_embedder(settings)
    clinc_rows = load_clinc150(require_dir(args.datasets / "clinc150"))
    clinc_val = clinc_rows["val"] + clinc_rows["oos_val"]
    clinc = parts(settings, embedder, clinc_rows["train"], clinc_val)
    fit, held = banking_split(_read_csv(require_dir(args.datasets / "banking77") / "train.csv"))
    banking = parts(settings, embedder, fit, held)
    scope, probability = choose(
        clinc, banking, target_recall=args.target_recall, wrong_cost=args.wrong_cost
    )
    rows = []
    for name, split in (("CLINC150 val", clinc), ("BANKING77 train, held fifth", banking)):
        for label, (s, p) in (
            ("chosen", (scope, probability)),
            ("product of the two >= 0.5 (before)", (None, None)),
        ):
            if s is None:
                confidence = split.probability * split.in_scope
                routed_parts = Parts(split.right, confidence, np.ones_like(confidence), split.oos)
                right, wrong, asked, recall = routed_parts.rates(0.0, 0.5)
            else:
                right, wrong, asked, recall = split.rates(s, p)
            rows.append(
                (
                    name,
                    label,
                    _pct(right),
                    _pct(wrong),
                    _pct(asked),
                    _pct(recall) if split.oos.any() else "n/a",
                )
            )
    table = markdown_table(
        ("calibration split", "rule", "routed-right", "routed-wrong", "asked-back", "OOS recall"),
        rows,
    )
    text = f"""## Intent routing thresholds (`scripts/calibrate_routing.py`)

Chosen on calibration splits only (see the script's docstring): `intent_scope_threshold` =
**{scope:g}** (the smallest reaching {100 * args.target_recall:g}% out-of-scope recall on
CLINC150 val), `intent_threshold` = **{probability:g}** (least
{args.wrong_cost:g} x routed-wrong + asked-back over both splits). Classifier-level figures, as
the service fits and reads (built-in `talk_to_human` included); the reported test figures are
through the API in the "served" section.

{ran_on()}

{table}
"""
    publish(text, "routing", write=args.write, path=EVALUATION)


if __name__ == "__main__":
    main()
