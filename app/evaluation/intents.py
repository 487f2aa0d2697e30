"""`python -m app eval intents`: the service's intent classifier on labelled CSV files.

It encodes with the service's encoder, fits the service's `IntentClassifier` on `--train`
(vectors and texts; rows with the out-of-scope label are not an intent and are left out of the
fit), and routes `--test` exactly as a turn does (`app.policy.decision.routes_intent`): a message
is taken as its best intent when its in-scope score clears the rejection threshold and
P(intent | in scope) clears the policy's `intent_threshold`; otherwise it is not routed.

The rejection threshold is the policy's `intent_scope_threshold` unless `--val` is given: then
it is chosen on that held-out split (never on the test file) as the grid value with the best
balanced score, the mean of in-scope accuracy and out-of-scope recall (ties: the lower threshold). A
validation split without out-of-scope rows cannot choose a threshold; the default is kept.

Metrics: in-scope accuracy (right intent and not rejected, over all in-scope rows), accuracy
without rejection, out-of-scope recall and precision, macro F1 over the in-scope intents, and
the fit and encode times.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from app.config import Settings
from app.evaluation.retrieval import encode_texts, load_embedder
from app.nlp.datasets import DatasetError, Labelled, read_labelled_csv
from app.nlp.intent_classifier import IntentClassifier
from app.policy.decision import IntentSignal, routes_intent
from app.policy.settings import PolicySettings

DEFAULT_OUT = Path("data/eval/intents.json")
THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]


@dataclass(frozen=True)
class IntentReport:
    """What the classifier scored on one labelled set at one threshold."""

    threshold: float
    rows: int
    in_scope: int
    out_of_scope: int
    in_scope_accuracy: float
    accuracy_without_rejection: float
    oos_recall: float | None
    oos_precision: float | None
    macro_f1: float


def _calibrate(policy: PolicySettings) -> Callable[[float], float]:
    from app.policy.calibration import kb_confidence

    return lambda score: kb_confidence(score, policy)


def score(
    classifier: IntentClassifier,
    vectors: np.ndarray,
    texts: list[str],
    truth: list[str],
    *,
    oos_label: str | None,
    threshold: float,
    policy: PolicySettings,
    confidences: list[IntentSignal] | None = None,
) -> IntentReport:
    """Metrics of the classifier on encoded rows at rejection `threshold`."""
    if confidences is None:
        confidences = predictions(classifier, vectors, texts, policy)
    routing = policy.model_copy(update={"intent_scope_threshold": threshold})
    truth_a = np.asarray(truth)
    best_a = np.asarray([signal.name for signal in confidences])
    accepted = np.asarray([routes_intent(signal, routing) for signal in confidences])
    oos = truth_a == oos_label if oos_label is not None else np.zeros(len(truth), dtype=bool)
    ins = ~oos
    right = best_a == truth_a
    f1s = []
    for label in classifier.labels:
        predicted = accepted & (best_a == label)
        actual = ins & (truth_a == label)
        tp = float((predicted & actual).sum())
        denominator = float(predicted.sum() + actual.sum())
        f1s.append(2 * tp / denominator if denominator else 0.0)
    rejected = ~accepted
    return IntentReport(
        threshold=threshold,
        rows=len(truth),
        in_scope=int(ins.sum()),
        out_of_scope=int(oos.sum()),
        in_scope_accuracy=float((right & accepted & ins).sum() / max(ins.sum(), 1)),
        accuracy_without_rejection=float((right & ins).sum() / max(ins.sum(), 1)),
        oos_recall=float((rejected & oos).sum() / oos.sum()) if oos.any() else None,
        oos_precision=float((rejected & oos).sum() / rejected.sum())
        if oos.any() and rejected.any()
        else None,
        macro_f1=float(np.mean(f1s)),
    )


def predictions(
    classifier: IntentClassifier, vectors: np.ndarray, texts: list[str], policy: PolicySettings
) -> list[IntentSignal]:
    """The best intent of every row as the policy sees it in a turn."""
    guesses = classifier.predict(vectors, threshold=0.0, calibrate=_calibrate(policy), texts=texts)
    return [
        IntentSignal(
            g.ranked[0][0],
            g.confidence,
            match=g.match,
            probability=g.ranked[0][1],
            in_scope=g.in_scope,
        )
        for g in guesses
    ]


def choose_threshold(
    classifier: IntentClassifier,
    vectors: np.ndarray,
    texts: list[str],
    truth: list[str],
    *,
    oos_label: str,
    policy: PolicySettings,
) -> float:
    """The grid threshold with the best mean of in-scope accuracy and OOS recall."""
    cached = predictions(classifier, vectors, texts, policy)

    def balanced(threshold: float) -> float:
        report = score(
            classifier,
            vectors,
            texts,
            truth,
            oos_label=oos_label,
            threshold=threshold,
            policy=policy,
            confidences=cached,
        )
        return 0.5 * report.in_scope_accuracy + 0.5 * (report.oos_recall or 0.0)

    return max(THRESHOLDS, key=lambda t: (balanced(t), -t))


def _split(rows: Labelled) -> tuple[list[str], list[str]]:
    return [text for text, _ in rows], [label for _, label in rows]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def intents_command(
    train: Annotated[Path, typer.Option("--train", help="CSV (text,label) to fit on.")],
    test: Annotated[Path, typer.Option("--test", help="CSV (text,label) to measure on.")],
    oos_label: Annotated[
        str | None,
        typer.Option("--oos-label", help="The label of out-of-scope rows (e.g. oos)."),
    ] = None,
    val: Annotated[
        Path | None,
        typer.Option("--val", help="Held-out CSV to choose the rejection threshold on."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the JSON report.")] = (
        DEFAULT_OUT
    ),
) -> None:
    """Fit the service's intent classifier on --train and measure it on --test: in-scope
    accuracy, out-of-scope recall and precision, macro F1, fit and encode time."""
    try:
        train_rows = read_labelled_csv(train)
        test_rows = read_labelled_csv(test)
        val_rows = read_labelled_csv(val) if val else None
    except DatasetError as exc:
        raise typer.BadParameter(str(exc)) from exc
    settings = Settings()
    policy = settings.policy
    fit_rows = [(t, label) for t, label in train_rows if label != oos_label]
    if len({label for _, label in fit_rows}) < 2:
        raise typer.BadParameter(f"{train}: needs at least two intents", param_hint="--train")

    embedder = load_embedder(settings)
    began = time.perf_counter()
    train_texts, train_labels = _split(fit_rows)
    train_vectors = encode_texts(embedder, train_texts)
    encode_seconds = time.perf_counter() - began
    began = time.perf_counter()
    classifier = IntentClassifier.fit(train_vectors, train_labels, texts=train_texts)
    fit_seconds = time.perf_counter() - began

    threshold = policy.intent_scope_threshold
    chosen_on = "the policy default (intent_scope_threshold)"
    if val is not None and val_rows is not None and oos_label is not None:
        val_texts, val_truth = _split(val_rows)
        if oos_label in val_truth:
            val_vectors = encode_texts(embedder, val_texts)
            threshold = choose_threshold(
                classifier, val_vectors, val_texts, val_truth, oos_label=oos_label, policy=policy
            )
            chosen_on = f"{val.name} (best mean of in-scope accuracy and OOS recall)"

    began = time.perf_counter()
    test_texts, test_truth = _split(test_rows)
    test_vectors = encode_texts(embedder, test_texts)
    encode_seconds += time.perf_counter() - began
    report = score(
        classifier,
        test_vectors,
        test_texts,
        test_truth,
        oos_label=oos_label,
        threshold=threshold,
        policy=policy,
    )
    typer.echo(f"train {train.name} ({len(fit_rows)} rows, {len(classifier.labels)} intents), ")
    typer.echo(f"test {test.name}; threshold {threshold:g} from {chosen_on}\n")
    typer.echo(
        "| rows | in-scope acc | acc without rejection | OOS recall | OOS precision | macro F1 "
        "| fit s | encode s |"
    )
    typer.echo("|---:|---:|---:|---:|---:|---:|---:|---:|")
    typer.echo(
        f"| {report.rows} | {_pct(report.in_scope_accuracy)} "
        f"| {_pct(report.accuracy_without_rejection)} | {_pct(report.oos_recall)} "
        f"| {_pct(report.oos_precision)} | {report.macro_f1:.3f} | {fit_seconds:.1f} "
        f"| {encode_seconds:.1f} |"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        **asdict(report),
        "threshold_chosen_on": chosen_on,
        "train": str(train),
        "test": str(test),
        "fit_seconds": round(fit_seconds, 2),
        "encode_seconds": round(encode_seconds, 2),
        "temperature": classifier.temperature,
        "threshold_at_default": policy.intent_scope_threshold,
        "intent_threshold": policy.intent_threshold,
    }
    out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    typer.echo(f"\nwrote {out}")
