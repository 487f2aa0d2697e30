"""Sentiment of customer messages: a score in [-1, 1] per message (negative = unhappy) and its
trend over a conversation.

How a message is scored
-----------------------
    lexicon = min(vader, 0) if learned < 0 else vader
    score = clip(LEXICON_WEIGHT * lexicon + (1 - LEXICON_WEIGHT) * learned, -1, 1)

- `vader`: VADER's compound score of the raw text (lexicon and rules, `vaderSentiment`, MIT),
  with a support-language adjustment of its lexicon: `SUPPORT_NEUTRAL_WORDS` ("cancel",
  "wrong", "broken", "error", "missing", "no"...) name the customer's problem, not their mood,
  and are ignored ("cancel my order" was -0.25 from VADER alone), and "joke" is negative. It
  knows swearing, emoji, "not good", "VERY bad!!!", but it only sees words.
- `learned`: P(positive) - P(negative) from a 3-class logistic regression on the message's
  all-MiniLM-L6-v2 vector, the one the service already computes for retrieval and intents (no
  second encoder call). It learns what waiting, repeating oneself and missing money mean, and,
  from its training data, that "I can't log in" or "the app won't open" is a neutral problem
  statement.
- The lexicon's warmth only counts when the learned half is not negative: in "great, another
  delay, just what I needed" or "thanks, but it still crashes" the positive words are sarcasm
  or politeness, and the old blend read the first at +0.16.

Choices, with figures (see docs/EVALUATION.md `sentiment` and `sentiment_conversations`):
dropping the problem words from VADER, the gate, and `LEXICON_WEIGHT` 0.3 (from 0.0, 0.2, 0.3,
0.4) were chosen on the tune split of our conversation sets (`tests/suites/sentiment/*/tune.yaml`)
and TweetEval's validation split, never on the held-out conversations or TweetEval test. Tried
and dropped: frustration cues fed to the regression beside the vector ("still"/"again",
"third time", "thanks ... but", praise opening a complaint, "!!", capitals, a trailing "...");
on the tune split they handed off no more frustrated conversations and pushed calm ones
("I don't use it anymore") closer to a handoff.

What trains what
----------------
- The learned part is fitted on two files in `app/nlp/data/`, both written for this project and
  licensed with it (MIT, see `app/nlp/data/README.md`): `sentiment_support.csv` (customer-support
  messages: neutral problem statements and negations labelled neutral, polite-but-frustrated,
  sarcastic and repeated asks labelled negative) and `sentiment_general.csv` (everyday
  remarks, so that the direction it learns is about sentiment rather than about support
  topics). Nothing else trains it.
- VADER's rules are used as published; only the lexicon entries above are changed.
- TweetEval (research/evaluation only) trains nothing and is not shipped. Its validation split
  was used offline for choices, never for weights; its test split is used only by
  `python -m app eval sentiment` to report, after these choices were fixed.

Three classes
-------------
`SentimentModel.band` maps a score to negative / neutral / positive (used by the evaluation,
not by the service). It is chosen at training time on our own data: out-of-fold scores from a
5-fold split of the training files, thresholds on a 0.05 grid maximising macro recall.

Handing off
-----------
The policy hands off on `score <= sentiment_handoff_level` or, after a few messages, on
`sentiment_trend(...) <= sentiment_trend_handoff`. The defaults (a level of -0.6, a trend of
-0.3 from the 3rd customer message) were chosen on the tune split of the conversation sets,
as the settings that hand off no calm conversation there even with every score lowered by
0.05, and the most frustrated ones among those (`scripts/eval_sentiment_conversations.py`
reports both splits through the API). Re-check them on real traffic with
`python -m app replay`.

Known limits
------------
Sarcastic praise on its own ("excellent, just excellent" after a complaint) reads positive:
the message carries no sign of it, only the conversation does. A repeated question that is
polite ("third time I'm asking, where is my order?") scores about neutral when the question
dominates the sentence. "Thanks, but it still crashes" scores only mildly negative (-0.12).
The encoder and VADER are English-only: French, German and Spanish messages scored between 0
and +0.2 whether happy or not.

Cost
----
Fitting encodes the 1,174 training texts (4-7 s on 2 busy cores; the encoder is the cost) and
fits 6 small regressions (0.5 s). The fitted model is kept per process, and on disk under
`cache_dir` when one is given, keyed by a hash of the training files, the settings above, the
VADER version and a fingerprint of the encoder (its vector of a fixed probe text), so a
restart loads it in milliseconds and any change to the data or the encoder refits. Scoring a
message whose vector is known costs about 0.06 ms (VADER plus one 384x3 product).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.nlp.datasets import DatasetError, read_labelled_csv

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

log = logging.getLogger(__name__)

Embed = Callable[[list[str]], np.ndarray]

LABELS = ("negative", "neutral", "positive")
LEXICON_WEIGHT = 0.3  # share of VADER in the score; the learned part has the rest
REGULARISATION = 1.0  # inverse L2 strength (scikit-learn's C) of the learned part
FOLDS = 5  # out-of-fold split that chooses the neutral band
GRID_STEP = 0.05  # resolution of the neutral band's thresholds
FORMAT_VERSION = 2  # bump when the fitted arrays change meaning
# Words VADER scores as negative that, in a support conversation, name the problem the customer
# reports rather than how they feel about it ("cancel my order", "I ordered the wrong size", "it
# says error 500", "no, that's not it"). The lexicon half ignores them; the learned half still
# reads the whole message, so "your useless app crashed AGAIN" stays negative.
SUPPORT_NEUTRAL_WORDS = frozenset(
    {
        "blocked",
        "broke",
        "broken",
        "cancel",
        "canceled",
        "cancelled",
        "cancelling",
        "charged",
        "cracked",
        "crash",
        "crashed",
        "crashes",
        "crushed",
        "damage",
        "damaged",
        "declined",
        "defective",
        "delay",
        "delayed",
        "error",
        "errors",
        "expired",
        "fail",
        "failed",
        "failing",
        "fails",
        "faulty",
        "issue",
        "lost",
        "missing",
        "mistake",
        "no",
        "problem",
        "problems",
        "rejected",
        "stuck",
        "wrong",
    }
)
# Words whose VADER valence is the wrong sign in support language ("this is a joke").
SUPPORT_LEXICON = {"joke": -1.5}
DATA_DIR = Path(__file__).with_name("data")
TRAINING_FILES = (DATA_DIR / "sentiment_support.csv", DATA_DIR / "sentiment_general.csv")
PROBE = "Hello, where is my order? I paid a week ago and nothing has arrived."

_analyzer: SentimentIntensityAnalyzer | None = None
_analyzer_lock = threading.Lock()
_trained: dict[str, SentimentModel] = {}
_trained_lock = threading.Lock()


def _vader() -> SentimentIntensityAnalyzer:
    """The process's VADER analyzer (reads its lexicon once)."""
    global _analyzer
    with _analyzer_lock:
        if _analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            analyzer = SentimentIntensityAnalyzer()
            for word in SUPPORT_NEUTRAL_WORDS:
                analyzer.lexicon.pop(word, None)
            analyzer.lexicon.update(SUPPORT_LEXICON)
            _analyzer = analyzer
        return _analyzer


def vader_scores(texts: Sequence[str]) -> np.ndarray:
    """VADER's compound score of each text, in [-1, 1], with the support adjustments of its
    lexicon (`SUPPORT_NEUTRAL_WORDS`, `SUPPORT_LEXICON`)."""
    analyzer = _vader()
    return np.array([analyzer.polarity_scores(t)["compound"] for t in texts], dtype=np.float64)


@dataclass(frozen=True)
class NeutralBand:
    """Scores at or below `negative_at_most` are negative, at or above `positive_at_least`
    positive, the rest neutral."""

    negative_at_most: float
    positive_at_least: float

    def labels(self, scores: np.ndarray) -> np.ndarray:
        """The class of each score."""
        scores = np.asarray(scores, dtype=np.float64)
        return np.where(
            scores <= self.negative_at_most,
            LABELS[0],
            np.where(scores >= self.positive_at_least, LABELS[2], LABELS[1]),
        )

    def label(self, score: float) -> str:
        """The class of one score."""
        return str(self.labels(np.array([score]))[0])


def macro_recall(truth: Sequence[str] | np.ndarray, predicted: np.ndarray) -> float:
    """Mean over the classes present in `truth` of the share of that class predicted right."""
    truth = np.asarray(truth)
    recalls = [float((predicted[truth == c] == c).mean()) for c in LABELS if (truth == c).any()]
    return float(np.mean(recalls)) if recalls else 0.0


def choose_band(
    scores: np.ndarray, truth: Sequence[str] | np.ndarray, step: float = GRID_STEP
) -> NeutralBand:
    """The thresholds on a `step` grid in (-1, 1) that maximise 3-class macro recall of
    `scores` against `truth` (ties: the first in grid order, so the result is deterministic)."""
    grid = np.round(np.arange(-1.0 + step, 1.0, step), 6)
    truth_array = np.asarray(truth)
    best = (-1.0, NeutralBand(-GRID_STEP, GRID_STEP))
    for low in grid:
        for high in grid[grid > low]:
            band = NeutralBand(float(low), float(high))
            value = macro_recall(truth_array, band.labels(scores))
            if value > best[0] + 1e-12:
                best = (value, band)
    return best[1]


def load_training_data(paths: Sequence[Path] = TRAINING_FILES) -> list[tuple[str, str]]:
    """The `(text, label)` rows of the training files; labels must be in `LABELS`."""
    rows: list[tuple[str, str]] = []
    for path in paths:
        for number, (text, label) in enumerate(read_labelled_csv(path), start=2):
            if label not in LABELS:
                raise DatasetError(f"{path}, row {number}: label {label!r} is not one of {LABELS}")
            rows.append((text, label))
    return rows


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _learned(vectors: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """P(positive) - P(negative) of each vector under a fitted 3-class regression."""
    probs = _softmax(vectors.astype(np.float64) @ coef.T + intercept)
    return probs[:, 2] - probs[:, 0]


def _blend(vader: np.ndarray, learned: np.ndarray, weight: float) -> np.ndarray:
    """The score: the lexicon's warmth counts only where the learned half is not negative, so
    "great, another delay, just what I needed" or "thanks, but it still crashes" (positive words,
    an unhappy sentence) are not lifted by their "great" or "thanks"."""
    lexicon = np.where(learned < 0.0, np.minimum(vader, 0.0), vader)
    return np.clip(weight * lexicon + (1.0 - weight) * learned, -1.0, 1.0)


def _fingerprint(embed: Embed) -> bytes:
    """Identifies the encoder by what it does: its vector of `PROBE`, to 3 decimals."""
    vector = np.asarray(embed([PROBE]), dtype=np.float64).reshape(-1)
    return np.rint(vector * 1000).astype(np.int32).tobytes()


def _training_key(embed: Embed, paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    try:
        vader_version = version("vaderSentiment")
    except PackageNotFoundError:  # pragma: no cover - installed as a dependency
        vader_version = "?"
    settings = (
        FORMAT_VERSION,
        LEXICON_WEIGHT,
        REGULARISATION,
        FOLDS,
        GRID_STEP,
        vader_version,
        sorted(SUPPORT_NEUTRAL_WORDS),
        sorted(SUPPORT_LEXICON.items()),
    )
    digest.update(repr(settings).encode())
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(_fingerprint(embed))
    return digest.hexdigest()[:20]


class SentimentModel:
    """Scores customer messages from their text and their encoder vector.

    Immutable after construction and safe to share between threads.
    """

    def __init__(
        self,
        coef: np.ndarray,
        intercept: np.ndarray,
        band: NeutralBand,
        *,
        lexicon_weight: float = LEXICON_WEIGHT,
        key: str = "",
    ) -> None:
        if coef.ndim != 2 or coef.shape[0] != len(LABELS) or intercept.shape != (len(LABELS),):
            raise ValueError("coef must be (3, dimension) and intercept (3,)")
        self.coef = np.ascontiguousarray(coef, dtype=np.float64)
        self.intercept = np.ascontiguousarray(intercept, dtype=np.float64)
        self.band = band
        self.lexicon_weight = lexicon_weight
        self.key = key

    @property
    def dimension(self) -> int:
        """Length of the vectors this model reads."""
        return int(self.coef.shape[1])

    @classmethod
    def train(
        cls,
        embed: Embed,
        *,
        cache_dir: Path | None = None,
        paths: Sequence[Path] = TRAINING_FILES,
    ) -> SentimentModel:
        """Fit on the training files with `embed` (the service's encoder), deterministically.

        Reuses a model fitted earlier in this process, or saved in `cache_dir`, for the same
        data, settings and encoder; otherwise fits (a few seconds) and saves it there.
        """
        key = _training_key(embed, paths)
        with _trained_lock:
            if key in _trained:
                return _trained[key]
            model = cls._load(cache_dir / f"sentiment-{key}.npz", key) if cache_dir else None
            if model is None:
                model = cls._fit(embed, paths, key)
                if cache_dir:
                    model._save(cache_dir / f"sentiment-{key}.npz")
            _trained[key] = model
            return model

    @classmethod
    def _fit(cls, embed: Embed, paths: Sequence[Path], key: str) -> SentimentModel:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

        rows = load_training_data(paths)
        texts = [text for text, _ in rows]
        truth = np.array([label for _, label in rows])
        vectors = np.asarray(embed(texts), dtype=np.float64)
        regression = LogisticRegression(C=REGULARISATION, max_iter=5000)
        folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
        # One BLAS thread: these problems are tiny, and on a busy 2-core machine threaded BLAS
        # spins for seconds (measured: 2.4 s against 0.04 s per fit).
        with threadpool_limits(limits=1):
            out_of_fold = cross_val_predict(
                regression, vectors, truth, cv=folds, method="predict_proba"
            )
            regression.fit(vectors, truth)
        order = [list(regression.classes_).index(label) for label in LABELS]
        coef = regression.coef_[order]
        intercept = regression.intercept_[order]
        held_out = _blend(
            vader_scores(texts), out_of_fold[:, 2] - out_of_fold[:, 0], LEXICON_WEIGHT
        )
        band = choose_band(held_out, truth)
        log.info("sentiment model fitted on %d texts (neutral band %s)", len(texts), band)
        return cls(coef, intercept, band, key=key)

    @classmethod
    def _load(cls, path: Path, key: str) -> SentimentModel | None:
        if not path.is_file():
            return None
        try:
            with np.load(path) as saved:
                band = NeutralBand(float(saved["band"][0]), float(saved["band"][1]))
                return cls(
                    saved["coef"],
                    saved["intercept"],
                    band,
                    lexicon_weight=float(saved["lexicon_weight"]),
                    key=key,
                )
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("ignoring unreadable sentiment model %s (%s); refitting", path, exc)
            return None

    def _save(self, path: Path) -> None:
        """Write atomically; a failure to write only costs a refit next time."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                np.savez(
                    out,
                    coef=self.coef,
                    intercept=self.intercept,
                    band=np.array([self.band.negative_at_most, self.band.positive_at_least]),
                    lexicon_weight=np.array(self.lexicon_weight),
                )
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not save the sentiment model to %s: %s", path, exc)

    def learned_many(self, vectors: np.ndarray) -> np.ndarray:
        """The learned part alone, P(positive) - P(negative), for each vector."""
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(
                f"expected vectors of shape (n, {self.dimension}), got {vectors.shape}"
            )
        return _learned(vectors, self.coef, self.intercept)

    def score_many(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """The score of each message in [-1, 1] (negative = unhappy); `vectors[i]` must be the
        encoder's vector of `texts[i]`."""
        learned = self.learned_many(vectors)
        if len(texts) != len(learned):
            raise ValueError(f"{len(texts)} texts but {len(learned)} vectors")
        return _blend(vader_scores(texts), learned, self.lexicon_weight)

    def score(self, text: str, vector: np.ndarray) -> float:
        """The score of one message in [-1, 1] (negative = unhappy)."""
        return float(self.score_many([text], np.asarray(vector).reshape(1, -1))[0])

    def label(self, score: float) -> str:
        """negative / neutral / positive for a score, by `band`."""
        return self.band.label(score)


def sentiment_trend(
    scores: Sequence[float], *, recent: int = 2, window: int = 6, ceiling: float = 0.0
) -> float:
    """How the customer's mood is moving over their own messages (oldest first): the mean score
    of the last `recent` messages minus the mean of the earlier ones, looking at most `window`
    messages back. Negative = getting worse; 0.0 until there are more than `recent` scores.

    Only unhappiness counts: scores above `ceiling` (default 0) are taken as `ceiling`, so a
    pleased customer turning neutral ("thanks!" then "and my invoice?") is not a fall, while
    neutral turning unhappy is. With the default ceiling the trend lies in [-1, 1]. It is a
    difference of recent and earlier levels rather than a regression slope: on simulated
    support conversations it separated souring from calm ones far better (see "Handing off").

    Examples (defaults): `[0.0, 0.0, -0.4, -0.4]` gives -0.4; `[0.8, 0.0, 0.0]` gives 0.0;
    `[-0.5, -0.5, -0.5]` gives 0.0 (unhappy throughout: the level, not the trend, says so);
    `[-0.6, -0.2, 0.0]` gives +0.5 (recovering).
    """
    if recent < 1 or window <= recent:
        raise ValueError("need recent >= 1 and window > recent")
    values = np.minimum(np.asarray(list(scores)[-window:], dtype=np.float64), ceiling)
    if values.size <= recent:
        return 0.0
    return float(values[-recent:].mean() - values[:-recent].mean())
