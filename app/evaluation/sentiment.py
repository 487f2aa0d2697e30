"""`python -m app eval sentiment`: the service's sentiment score against VADER alone, on a labelled
CSV, in the same run.

Everything runs through the code the service runs: the product `Embedder` (configured model and
backend) encodes the texts, and `SentimentModel.train` fits (or loads from
`Settings().model_cache_dir`) the same model the service scores with; `score_many` scores.
"VADER alone" is `vader_scores`, the lexicon half of that score.

The test file is a CSV with a `text,label` header. Labels are `negative`, `neutral`, `positive`
(the negative class may be renamed with `--negative-label`); with other labels only the
negative-vs-rest figures are computed.

Reported per scorer:
- **negative-vs-rest ROC AUC** of the score (lower = more negative), no threshold involved;
- **macro recall** over the three classes (the official TweetEval / SemEval-2017 4A metric),
  and negative-class **precision / recall / F1**, after mapping scores to classes with two
  thresholds (negative at or below the first, positive at or above the second). The thresholds
  are never chosen on the test file:
  - by default ("training data"), from our own training files: for ours, the band the model
    chose at training time on out-of-fold scores; for VADER, the same search (macro recall,
    0.05 grid) over VADER's scores of the same texts;
  - with `--calibration FILE` (for TweetEval: its validation split), by that search on FILE,
    for each scorer alike; the file must differ from the test file;
  - VADER is also shown with its authors' conventional thresholds (compound <= -0.05 / >= 0.05).
- the learned half alone (P(positive) - P(negative) on the vector) as an ablation, AUC only
  unless `--calibration` gives it thresholds.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from app.config import Settings
from app.evaluation.retrieval import encode_texts, load_embedder
from app.nlp.datasets import DatasetError, Labelled, read_labelled_csv
from app.nlp.sentiment import (
    LABELS,
    TRAINING_FILES,
    NeutralBand,
    SentimentModel,
    choose_band,
    load_training_data,
    macro_recall,
    vader_scores,
)

DEFAULT_OUT = Path("data/eval/sentiment.json")
VADER_CONVENTIONAL = NeutralBand(-0.05, 0.05)  # the thresholds VADER's README recommends


def roc_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of `score` ranking the `positive` rows first (ties count half)."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=np.float64)
    sorted_scores = np.asarray(score)[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


@dataclass(frozen=True)
class ScorerResult:
    """The figures of one scorer with one pair of thresholds."""

    scorer: str
    thresholds_from: str
    negative_at_most: float | None
    positive_at_least: float | None
    negative_auc: float
    macro_recall: float | None
    negative_precision: float | None
    negative_recall: float | None
    negative_f1: float | None


def _negative_prf(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    hit = float(((predicted == LABELS[0]) & (truth == LABELS[0])).sum())
    called = float((predicted == LABELS[0]).sum())
    actual = float((truth == LABELS[0]).sum())
    precision = hit / called if called else 0.0
    recall = hit / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score_result(
    scorer: str,
    scores: np.ndarray,
    truth: np.ndarray,
    band: NeutralBand | None,
    thresholds_from: str,
) -> ScorerResult:
    """AUC always; the thresholded figures when `band` is given (macro recall only when every
    label is one of the three classes)."""
    auc = roc_auc(truth == LABELS[0], -np.asarray(scores))
    if band is None:
        return ScorerResult(scorer, thresholds_from, None, None, auc, None, None, None, None)
    predicted = band.labels(scores)
    three_class = set(np.unique(truth)) <= set(LABELS)
    precision, recall, f1 = _negative_prf(truth, predicted)
    return ScorerResult(
        scorer,
        thresholds_from,
        band.negative_at_most,
        band.positive_at_least,
        auc,
        macro_recall(truth, predicted) if three_class else None,
        precision,
        recall,
        f1,
    )


def _cell(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or value != value else f"{value:.{digits}f}"


def markdown_table(results: Sequence[ScorerResult]) -> str:
    """One row per scorer and threshold source."""
    lines = [
        "| scorer | thresholds from | neg ≤ / pos ≥ | neg-vs-rest ROC AUC | macro recall "
        "| neg precision | neg recall | neg F1 |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        band = (
            "—"
            if r.negative_at_most is None
            else f"{r.negative_at_most:+.2f} / {r.positive_at_least:+.2f}"
        )
        lines.append(
            f"| {r.scorer} | {r.thresholds_from} | {band} | {_cell(r.negative_auc)} "
            f"| {_cell(r.macro_recall)} | {_cell(r.negative_precision)} "
            f"| {_cell(r.negative_recall)} | {_cell(r.negative_f1)} |"
        )
    return "\n".join(lines)


def _normalise(rows: Labelled, negative_label: str) -> tuple[list[str], np.ndarray]:
    """Texts and labels, the negative class renamed to `negative`."""
    texts = [text for text, _ in rows]
    labels = np.array([LABELS[0] if label == negative_label else label for _, label in rows])
    return texts, labels


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Scored:
    """Ours, VADER alone and the learned half alone for a list of texts."""

    ours: np.ndarray
    vader: np.ndarray
    learned: np.ndarray
    encode_seconds: float
    score_seconds: float


def score_texts(
    model: SentimentModel, embed_texts: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]
) -> Scored:
    """Encode `texts` once and score them every way."""
    began = time.perf_counter()
    vectors = embed_texts(texts)
    encoded = time.perf_counter()
    ours = model.score_many(texts, vectors)
    scored = time.perf_counter()
    return Scored(
        ours=ours,
        vader=vader_scores(texts),
        learned=model.learned_many(vectors),
        encode_seconds=encoded - began,
        score_seconds=scored - encoded,
    )


def per_message_ms(model: SentimentModel, texts: Sequence[str], vectors: np.ndarray) -> float:
    """Median cost of `model.score` on one message whose vector is already known (what the
    service adds per message), in milliseconds, over up to 200 messages."""
    timings = []
    for text, vector in list(zip(texts, vectors, strict=True))[:200]:
        began = time.perf_counter()
        model.score(text, vector)
        timings.append(time.perf_counter() - began)
    return float(np.median(timings) * 1000) if timings else 0.0


def sentiment_command(
    test: Annotated[
        Path,
        typer.Option(
            "--test", help="CSV with a text,label header; labels negative, neutral, positive."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the JSON report.")] = (
        DEFAULT_OUT
    ),
    negative_label: Annotated[
        str, typer.Option("--negative-label", help="The label of the negative (unhappy) class.")
    ] = LABELS[0],
    calibration: Annotated[
        Path | None,
        typer.Option(
            "--calibration",
            help="Optional labelled CSV (not the test file; for TweetEval its validation "
            "split) on which to choose each scorer's 3-class thresholds; by default they come "
            "from our own training data.",
        ),
    ] = None,
) -> None:
    """Score a labelled CSV with the service's sentiment model and with VADER alone: negative-vs-
    rest ROC AUC, 3-class macro recall and negative precision/recall/F1 (thresholds never
    chosen on the test file), as a Markdown table and a JSON report."""
    try:
        test_rows = read_labelled_csv(test)
        calibration_rows = read_labelled_csv(calibration) if calibration else None
    except DatasetError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if calibration and _digest(calibration) == _digest(test):
        raise typer.BadParameter(
            "the calibration file is the test file: thresholds must not be chosen on the data "
            "they are measured on",
            param_hint="--calibration",
        )
    texts, truth = _normalise(test_rows, negative_label)
    if not (truth == LABELS[0]).any() or (truth == LABELS[0]).all():
        raise typer.BadParameter(
            f"{test}: the test file needs rows labelled {negative_label!r} and rows with other "
            "labels",
            param_hint="--negative-label",
        )

    settings = Settings()
    embedder = load_embedder(settings)
    began = time.perf_counter()
    model = SentimentModel.train(embedder.encode, cache_dir=settings.model_cache_dir)
    train_seconds = time.perf_counter() - began

    def embed_texts(items: Sequence[str]) -> np.ndarray:
        return encode_texts(embedder, items)

    typer.echo(f"encoding {len(texts):,} rows of {test} ...", err=True)
    scored = score_texts(model, embed_texts, texts)

    training = load_training_data()
    training_texts = [text for text, _ in training]
    training_truth = np.array([label for _, label in training])
    vader_band = choose_band(vader_scores(training_texts), training_truth)
    results = [
        score_result("ours (VADER + learned)", scored.ours, truth, model.band, "training data"),
        score_result("VADER alone", scored.vader, truth, vader_band, "training data"),
        score_result(
            "VADER alone", scored.vader, truth, VADER_CONVENTIONAL, "VADER's convention (±0.05)"
        ),
        score_result("learned half alone", scored.learned, truth, None, "—"),
    ]
    if calibration is not None and calibration_rows is not None:
        calibration_texts, calibration_truth = _normalise(calibration_rows, negative_label)
        typer.echo(f"encoding {len(calibration_texts):,} rows of {calibration} ...", err=True)
        held = score_texts(model, embed_texts, calibration_texts)
        source = f"calibration ({calibration.name})"
        for name, test_scores, calibration_scores in (
            ("ours (VADER + learned)", scored.ours, held.ours),
            ("VADER alone", scored.vader, held.vader),
            ("learned half alone", scored.learned, held.learned),
        ):
            band = choose_band(calibration_scores, calibration_truth)
            results.append(score_result(name, test_scores, truth, band, source))

    counts = Counter(truth.tolist())
    typer.echo(
        f"Sentiment on {test}: {len(texts):,} rows "
        f"({', '.join(f'{label} {counts[label]:,}' for label in sorted(counts))}); "
        f"encoder backend {embedder.backend}; model {model.key} "
        f"(VADER weight {model.lexicon_weight}).\n"
    )
    typer.echo(markdown_table(results))
    vectors_sample = embedder.encode(texts[:200])
    cost_ms = per_message_ms(model, texts[:200], vectors_sample)
    typer.echo(
        f"\nscoring cost per message (vector already computed): {cost_ms:.3f} ms median; "
        f"model ready in {train_seconds:.1f} s"
    )
    payload = {
        "test": str(test),
        "test_sha256": _digest(test),
        "calibration": str(calibration) if calibration else None,
        "negative_label": negative_label,
        "rows": len(texts),
        "labels": dict(sorted(counts.items())),
        "encoder": {"model": settings.embedding_model, "backend": embedder.backend},
        "model": {
            "key": model.key,
            "lexicon_weight": model.lexicon_weight,
            "band": asdict(model.band),
            "training_files": [str(p.relative_to(p.parents[3])) for p in TRAINING_FILES],
            "training_rows": len(training),
        },
        "results": [
            {k: (None if isinstance(v, float) and v != v else v) for k, v in asdict(r).items()}
            for r in results
        ],
        "timing": {
            "model_ready_seconds": round(train_seconds, 3),
            "encode_ms_per_row": round(scored.encode_seconds / len(texts) * 1000, 3),
            "score_ms_per_message": round(cost_ms, 4),
            "score_ms_per_row_batched": round(scored.score_seconds / len(texts) * 1000, 4),
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    typer.echo(f"\nwrote {out}")
