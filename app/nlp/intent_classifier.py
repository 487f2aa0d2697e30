"""The intent classifier: a logistic-regression head over the sentence vectors retrieval uses.

Fitted at start from the intents' examples (no second encoder call per message). Its
probabilities are calibrated by temperature scaling on out-of-fold predictions of the training
examples, so `confidence` reads as the probability that the best intent is right; a message
whose confidence is below the caller's threshold is out of scope (`name` is None).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

REGULARISATION = 16.0  # scikit-learn's C: unit-length vectors need a weak L2 penalty
MAX_FOLDS = 5
TEMPERATURES = np.exp(np.linspace(np.log(0.05), np.log(20.0), 121))


@dataclass(frozen=True)
class IntentGuess:
    """The classifier's reading of one message."""

    name: str | None  # best intent, or None when rejected as out of scope
    confidence: float  # calibrated probability that the best intent is right
    ranked: tuple[tuple[str, float], ...]  # top 3 (name, confidence), before rejection


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
        self, labels: tuple[str, ...], coef: np.ndarray, intercept: np.ndarray, temperature: float
    ) -> None:
        self._labels = labels
        self.coef = coef
        self.intercept = intercept
        self.temperature = temperature

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
        from sklearn.model_selection import StratifiedKFold
        from threadpoolctl import threadpool_limits

        names = tuple(sorted(set(labels)))
        if len(names) < 2:
            raise ValueError("the intent classifier needs at least two intents")
        index = {name: i for i, name in enumerate(names)}
        truth = np.asarray([index[label] for label in labels])
        with threadpool_limits(1):
            model = cls._regression(seed).fit(vectors, truth)
            folds = min(MAX_FOLDS, min(Counter(labels).values()))
            temperature = 1.0
            if folds >= 2:
                logits = np.zeros((len(truth), len(names)))
                splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
                for train, held in splitter.split(vectors, truth):
                    part = cls._regression(seed).fit(vectors[train], truth[train])
                    columns = part.classes_
                    logits[np.ix_(held, columns)] = part.decision_function(vectors[held])
                    missing = np.setdiff1d(np.arange(len(names)), columns)
                    logits[np.ix_(held, missing)] = -1e9
                temperature = _fit_temperature(logits, truth)
        return cls(names, model.coef_.astype(np.float32), model.intercept_, temperature)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, one row per vector, columns in `labels` order."""
        logits = vectors @ self.coef.T + self.intercept
        return _softmax(np.atleast_2d(logits) / self.temperature)

    def predict(self, vectors: np.ndarray, *, threshold: float) -> list[IntentGuess]:
        """The best intents of each vector; below `threshold` a message is out of scope."""
        guesses = []
        for row in self.probabilities(vectors):
            order = np.argsort(-row, kind="stable")[:3]
            ranked = tuple((self._labels[i], float(row[i])) for i in order)
            name, confidence = ranked[0]
            guesses.append(
                IntentGuess(name if confidence >= threshold else None, confidence, ranked)
            )
        return guesses
