"""The intent classifier: a logistic-regression head over the sentence vectors retrieval uses.

Fitted at start from the intents' examples (no second encoder call per message). Its
probabilities are calibrated by temperature scaling on held-out predictions of the training
examples (out-of-fold for small sets, a stratified 10% hold-out for large ones), so they read as
the probability of each intent *given that the message is one of them*.

The classifier only ever saw in-scope examples, so it cannot say how likely a message is to be
in scope at all. That comes from the match: the similarity of the message to the best intent's
closest example, mapped to a probability by the caller's calibration (the service uses the same
calibration as knowledge-base scores, so intents and articles compete on one scale). The
confidence is their product, P(intent | in scope) x P(in scope); below the caller's threshold the
message is out of scope (`name` is None).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

REGULARISATION = 16.0  # scikit-learn's C: unit-length vectors need a weak L2 penalty
MAX_FOLDS = 5
HOLDOUT_FROM = 2000  # from this many examples, one 10% hold-out calibrates instead of folds
HOLDOUT_SHARE = 0.1
TEMPERATURES = np.exp(np.linspace(np.log(0.05), np.log(20.0), 121))


@dataclass(frozen=True)
class IntentGuess:
    """The classifier's reading of one message."""

    name: str | None  # best intent, or None when rejected as out of scope
    confidence: float  # calibrated probability that the best intent is right
    ranked: tuple[tuple[str, float], ...]  # top 3 (name, P(intent | in scope)), before rejection
    match: float = 1.0  # calibrated similarity to the best intent's closest example


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def _fit_temperature(logits: np.ndarray, truth: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of `truth` (a grid search)."""
    best, best_nll = 1.0, np.inf
    rows = np.arange(len(truth))
    for temperature in TEMPERATURES:
        probs = _softmax(logits / temperature)
        nll = -np.log(np.clip(probs[rows, truth], 1e-12, None)).mean()
        if nll < best_nll:
            best, best_nll = float(temperature), float(nll)
    return best


class IntentClassifier:
    """Predicts the intent of encoded messages with a calibrated confidence."""

    def __init__(
        self,
        labels: tuple[str, ...],
        coef: np.ndarray,
        intercept: np.ndarray,
        temperature: float,
        examples: np.ndarray,
        example_labels: np.ndarray,
    ) -> None:
        self._labels = labels
        self.coef = coef
        self.intercept = intercept
        self.temperature = temperature
        self.examples = examples  # the training vectors, for the match
        self.example_labels = example_labels  # their column index in `labels`

    @property
    def labels(self) -> tuple[str, ...]:
        """The intents it knows, in column order."""
        return self._labels

    @staticmethod
    def _regression(seed: int):  # type: ignore[no-untyped-def]
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=REGULARISATION, max_iter=2000, random_state=seed)

    @classmethod
    def fit(cls, vectors: np.ndarray, labels: Sequence[str], *, seed: int = 0) -> IntentClassifier:
        """Fit on labelled vectors (at least two intents); deterministic for a given seed."""
        from threadpoolctl import threadpool_limits

        names = tuple(sorted(set(labels)))
        if len(names) < 2:
            raise ValueError("the intent classifier needs at least two intents")
        index = {name: i for i, name in enumerate(names)}
        truth = np.asarray([index[label] for label in labels])
        with threadpool_limits(1):
            model = cls._regression(seed).fit(vectors, truth)
            temperature = cls._temperature(vectors, truth, len(names), seed)
        return cls(
            names,
            model.coef_.astype(np.float32),
            model.intercept_,
            temperature,
            np.ascontiguousarray(vectors, dtype=np.float32),
            truth,
        )

    @classmethod
    def _temperature(cls, vectors: np.ndarray, truth: np.ndarray, classes: int, seed: int) -> float:
        """Fit the temperature on predictions for examples the regression did not see."""
        from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

        smallest = int(np.bincount(truth, minlength=classes).min())
        if len(truth) >= HOLDOUT_FROM and smallest >= 2:
            splitter: Any = StratifiedShuffleSplit(
                n_splits=1, test_size=HOLDOUT_SHARE, random_state=seed
            )
        elif min(MAX_FOLDS, smallest) >= 2:
            splitter = StratifiedKFold(
                n_splits=min(MAX_FOLDS, smallest), shuffle=True, random_state=seed
            )
        else:
            return 1.0
        logits = np.full((len(truth), classes), np.nan)
        for train, held in splitter.split(vectors, truth):
            part = cls._regression(seed).fit(vectors[train], truth[train])
            columns = part.classes_
            scores = np.full((len(held), classes), -1e9)
            scores[:, columns] = part.decision_function(vectors[held])
            logits[held] = scores
        seen = ~np.isnan(logits[:, 0])
        return _fit_temperature(logits[seen], truth[seen])

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, one row per vector, columns in `labels` order."""
        logits = vectors @ self.coef.T + self.intercept
        return _softmax(np.atleast_2d(logits) / self.temperature)

    def predict(
        self,
        vectors: np.ndarray,
        *,
        threshold: float,
        calibrate: Callable[[float], float] | None = None,
    ) -> list[IntentGuess]:
        """The best intents of each vector. With `calibrate` (similarity -> probability), the
        confidence is P(intent | in scope) x calibrate(similarity to the best intent's closest
        example); without it, P(intent | in scope) alone. Below `threshold`: out of scope."""
        vectors = np.atleast_2d(vectors)
        guesses = []
        for vector, row in zip(vectors, self.probabilities(vectors), strict=True):
            order = np.argsort(-row, kind="stable")[:3]
            ranked = tuple((self._labels[i], float(row[i])) for i in order)
            name, probability = ranked[0]
            match = 1.0
            if calibrate is not None:
                own = self.examples[self.example_labels == order[0]]
                match = calibrate(float(np.max(own @ vector)))
            confidence = probability * match
            guesses.append(
                IntentGuess(name if confidence >= threshold else None, confidence, ranked, match)
            )
        return guesses
