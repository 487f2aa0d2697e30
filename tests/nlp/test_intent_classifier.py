"""The intent classifier head over the real model's sentence vectors."""

from __future__ import annotations

import numpy as np
import pytest

from app.nlp.embedder import Embedder
from app.nlp.intent_classifier import IntentClassifier, TermWeights
from app.policy.calibration import kb_confidence
from app.policy.settings import PolicySettings

EXAMPLES = {
    "order_status": [
        "where is my order",
        "has my parcel shipped yet",
        "track my package",
        "when will my order arrive",
        "status of my order please",
    ],
    "refund": [
        "I want my money back",
        "please refund my purchase",
        "can I get a refund",
        "refund this order",
        "I'd like a refund for what I bought",
    ],
    "password": [
        "I forgot my password",
        "reset my password",
        "I can't log in to my account",
        "send me a password reset link",
        "my password doesn't work",
    ],
}
POLICY = PolicySettings()


def calibrate(score: float) -> float:
    return kb_confidence(score, POLICY)


@pytest.fixture(scope="module")
def fitted(embedder: Embedder) -> IntentClassifier:
    texts = [t for examples in EXAMPLES.values() for t in examples]
    labels = [name for name, examples in EXAMPLES.items() for _ in examples]
    return IntentClassifier.fit(embedder.encode(texts), labels)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("where's my package, it hasn't come", "order_status"),
        ("give me back my money", "refund"),
        ("locked out, need a new password", "password"),
    ],
)
def test_paraphrases_get_their_intent_with_high_confidence(
    fitted: IntentClassifier, embedder: Embedder, text: str, intent: str
) -> None:
    guess = fitted.predict(embedder.encode([text]), threshold=0.5, calibrate=calibrate)[0]
    assert guess.name == intent
    assert 0.5 <= guess.confidence <= 1.0
    assert guess.ranked[0][0] == intent and len(guess.ranked) == 3


def test_an_off_topic_message_is_rejected(fitted: IntentClassifier, embedder: Embedder) -> None:
    vector = embedder.encode(["what is the boiling point of tungsten on mars"])
    guess = fitted.predict(vector, threshold=0.5, calibrate=calibrate)[0]
    assert guess.name is None
    assert guess.confidence < 0.5
    # Without the match, the head alone has no notion of "none of these".
    alone = fitted.predict(vector, threshold=0.0)[0]
    assert guess.confidence <= alone.confidence


def test_probabilities_are_calibrated_rows(fitted: IntentClassifier, embedder: Embedder) -> None:
    rows = fitted.probabilities(embedder.encode(["hello", "refund please"]))
    assert rows.shape == (2, 3)
    assert np.allclose(rows.sum(axis=1), 1.0)
    assert fitted.temperature > 0


def test_fitting_is_deterministic(fitted: IntentClassifier, embedder: Embedder) -> None:
    texts = [t for examples in EXAMPLES.values() for t in examples]
    labels = [name for name, examples in EXAMPLES.items() for _ in examples]
    again = IntentClassifier.fit(embedder.encode(texts), labels)
    assert again.labels == fitted.labels
    vectors = embedder.encode(["where is my parcel"])
    assert again.probabilities(vectors).tolist() == fitted.probabilities(vectors).tolist()
    assert again.temperature == fitted.temperature


def test_one_intent_is_not_enough(embedder: Embedder) -> None:
    with pytest.raises(ValueError, match="at least two intents"):
        IntentClassifier.fit(embedder.encode(["a", "b"]), ["x", "x"])


def test_the_lexical_head_scores_as_scikit_learn_does(embedder: Embedder) -> None:
    """The lexical head computes TF-IDF per message itself (no sparse matrices, no per-call
    validation), with the numbers of `TfidfVectorizer.transform`: the mixture weights fitted on
    out-of-fold lexical logits and the probabilities below are those scikit-learn's transform
    gives."""
    texts = [t for examples in EXAMPLES.values() for t in examples]
    labels = [name for name, examples in EXAMPLES.items() for _ in examples]
    classifier = IntentClassifier.fit(embedder.encode(texts), labels, texts=texts)
    assert classifier.uses_text
    assert classifier.weights == pytest.approx((6.7735, 1.1825), rel=1e-3)
    queries = ["", "tungsten on mars", "Where's my PACKAGE??"]
    rows = classifier.probabilities(embedder.encode(queries), queries)
    expected = [
        [0.8028514304, 0.1724948612, 0.0246537084],
        [0.9893082924, 0.00542515, 0.0052665576],
        [1.0, 0.0, 0.0],
    ]
    assert rows == pytest.approx(np.array(expected), abs=1e-4)


@pytest.mark.parametrize(
    "options",
    [{"ngram_range": (1, 2)}, {"analyzer": "char_wb", "ngram_range": (3, 5), "min_df": 2}],
)
def test_term_weights_equal_scikit_learns_tfidf_times_the_coefficients(options: dict) -> None:
    """The per-message TF-IDF of the lexical head is scikit-learn's, number for number:
    repeated words (sublinear tf), unknown words, case, an empty text."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    train = [t for examples in EXAMPLES.values() for t in examples]
    vectorizers = [
        TfidfVectorizer(sublinear_tf=True, **options).fit(train),
        TfidfVectorizer(sublinear_tf=True).fit(train[::2]),
    ]
    width = sum(len(v.vocabulary_) for v in vectorizers)
    coef = np.random.default_rng(0).normal(size=(3, width))
    texts = [
        "refund refund REFUND my order, my order!",
        "where is my parcel",
        "zebra quantum xylophone",
        "",
        "I forgot my password password password",
    ]
    expected = sparse.hstack([v.transform(texts) for v in vectorizers]).tocsr() @ coef.T
    got = TermWeights(vectorizers, coef).scores(texts)
    assert got == pytest.approx(np.asarray(expected), abs=1e-12)
