"""Whether a customer message asks for a person: a small model of the request, not a pattern list.

`HumanRequestModel.score_many(texts, vectors)` gives P(the message asks to be passed to a
person) from what the turn already has, the message's sentence vector and its text (no second
encoder call):

- features: the L2-normalised all-MiniLM-L6-v2 vector, next to TF-IDF word 1-2-grams and
  character 2-5-grams (within word boundaries) of the lower-cased text, so that staff role
  names, "real"/"actual" person, short forms ("human pls", "agent!!") and typos ("hmuan",
  "reprsentative") share n-grams with the phrasings it was fitted on;
- one logistic regression over both (the intent classifier mixes the same two views,
  `app/nlp/intent_classifier.py`); scored per message with `TermWeights`, the same numbers
  as scikit-learn's transform without its per-call overhead.

It is fitted at start on the `train` rows of `app/nlp/data/human_requests.csv` (written for the
project, MIT; requests and near-misses that mention people without asking for one: "my colleague
placed the order", "are you a real person?"). The `calibrate` rows choose the policy's
`human_request_threshold`; `app/nlp/data/human_requests_heldout.csv` is never fitted or tuned
on and only reported (`scripts/eval_human_requests.py`). A model fitted in this process is
reused for the same data and encoder.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import numpy as np
from cachetools import LRUCache

from app.nlp.intent_classifier import TermWeights

DATA = Path(__file__).parent / "data"
TRAINING_FILE = DATA / "human_requests.csv"
HELD_OUT_FILE = DATA / "human_requests_heldout.csv"
REQUEST = "request"
REGULARISATION = 10.0  # scikit-learn's C; fixed, not tuned on the held-out file
VECTOR_WEIGHT = 1.0  # the sentence vector's scale next to the two l2-normalised TF-IDF blocks
FORMAT_VERSION = 1

Encode = Callable[[list[str]], Awaitable[np.ndarray]]

# Models fitted in this process, by data and encoder (immutable, so safe to share).
_fitted: LRUCache[str, HumanRequestModel] = LRUCache(maxsize=4)


def normal_text(text: str) -> str:
    """The text as the model reads it: lower case, typographic apostrophes folded."""
    return " ".join(text.lower().replace("\u2019", "'").split())


def read_rows(path: Path, split: str | None = None) -> list[tuple[str, bool]]:
    """(text, is a request) rows of a `text,label[,split]` file, of one split when given."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            (row["text"], row["label"] == REQUEST)
            for row in csv.DictReader(handle)
            if split is None or row.get("split") == split
        ]


class HumanRequestModel:
    """P(request for a person) of encoded messages. Immutable; safe to share between threads."""

    def __init__(
        self, vector_coef: np.ndarray, intercept: float, terms: TermWeights, key: str = ""
    ) -> None:
        self._vector_coef = np.ascontiguousarray(vector_coef, dtype=np.float64)
        self._intercept = intercept
        self._terms = terms
        self.key = key

    @classmethod
    def fit(
        cls, vectors: np.ndarray, texts: Sequence[str], truth: Sequence[bool]
    ) -> HumanRequestModel:
        """Fit on encoded texts labelled request (True) or not."""
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        normal = [normal_text(t) for t in texts]
        vectorizers = [
            TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)).fit(normal),
            TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5)).fit(normal),
        ]
        dense = np.asarray(vectors, dtype=np.float64) * VECTOR_WEIGHT
        features = sparse.hstack(
            [sparse.csr_matrix(dense), *[v.transform(normal) for v in vectorizers]]
        ).tocsr()
        regression = LogisticRegression(C=REGULARISATION, max_iter=5000)
        with threadpool_limits(limits=1):
            regression.fit(features, np.asarray(truth, dtype=bool))
        coef = regression.coef_[0]
        width = dense.shape[1]
        terms = TermWeights(vectorizers, coef[width:].reshape(1, -1))
        return cls(coef[:width] * VECTOR_WEIGHT, float(regression.intercept_[0]), terms)

    @classmethod
    async def start(
        cls, encode: Encode, *, path: Path = TRAINING_FILE, model_key: str | None = None
    ) -> HumanRequestModel:
        """Fit on the `train` rows of `path`, encoded with `encode` (the service's encoder);
        reuses a model fitted in this process for the same data and encoder `model_key`."""
        digest = hashlib.sha256(f"{FORMAT_VERSION}\0{model_key}\0".encode())
        digest.update(path.read_bytes())
        key = digest.hexdigest()[:20]
        if model_key is not None and (known := _fitted.get(key)) is not None:
            return known
        rows = read_rows(path, "train")
        texts = [text for text, _ in rows]
        vectors = await encode(texts)
        model = await asyncio.to_thread(cls.fit, vectors, texts, [label for _, label in rows])
        model.key = key
        if model_key is not None:
            _fitted[key] = model
        return model

    def score_many(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """P(request for a person) of each text (`vectors[i]` is the vector of `texts[i]`)."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        logits = vectors @ self._vector_coef + self._intercept
        logits = logits + self._terms.scores([normal_text(t) for t in texts])[:, 0]
        return np.asarray(1.0 / (1.0 + np.exp(-logits)))
