"""Article scoring of the vector index: best passage cosine, adjusted by centroid closeness."""

from __future__ import annotations

import numpy as np

from app.kb.vector_index import StoredPassages, VectorIndex, article_centroids


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def _index(rows: list[tuple[int, np.ndarray]], *, weight: float) -> VectorIndex:
    vectors = np.vstack([vector for _, vector in rows]).astype(np.float32)
    ids = np.asarray([article for article, _ in rows], dtype=np.int64)
    n = len(rows)
    stored = StoredPassages(vectors, ids, ["question"] * n, [""] * n, ["h"] * n)
    return VectorIndex(stored, centroid_weight=weight)


# Article 1 has one passage very close to the query and two far off; article 2's three passages
# are all fairly close. The best passage alone prefers 1, the article as a whole prefers 2.
ROWS = [
    (1, _unit(1.0, 0.05, 0.0)),
    (1, _unit(0.0, 1.0, 0.0)),
    (1, _unit(0.0, 0.0, 1.0)),
    (2, _unit(1.0, 0.3, 0.0)),
    (2, _unit(1.0, 0.0, 0.3)),
    (2, _unit(1.0, 0.25, 0.25)),
]
QUERY = _unit(1.0, 0.0, 0.0)


def test_without_centroid_weight_the_best_passage_scores_the_article() -> None:
    hits = _index(ROWS, weight=0.0).search(QUERY, articles=2)
    assert [article for article, _, _ in hits] == [1, 2]
    assert hits[0][1] == np.float32(QUERY @ ROWS[0][1])


def test_an_article_whose_passages_all_agree_wins_over_a_lucky_passage() -> None:
    hits = _index(ROWS, weight=1.0).search(QUERY, articles=2)
    assert [article for article, _, _ in hits] == [2, 1]
    best_cosine_2 = max(float(QUERY @ vector) for article, vector in ROWS if article == 2)
    assert abs(hits[0][1] - best_cosine_2) < 1e-6, "the preferred article keeps its cosine"
    assert hits[1][1] < float(QUERY @ ROWS[0][1]), "the other loses points"


def test_scores_never_exceed_the_best_passage_cosine_and_are_deterministic() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((60, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.repeat(np.arange(12), 5)[rng.permutation(60)]  # rows in any order
    rows = list(zip(ids.tolist(), vectors, strict=True))
    index = _index(rows, weight=1.0)
    query = vectors[7] + 0.1 * vectors[30]
    query /= np.linalg.norm(query)
    hits = index.search(query, articles=12)
    assert hits == index.search(query, articles=12)
    assert len({article for article, _, _ in hits}) == 12
    for article, score, _ in hits:
        best = max(float(query @ v) for a, v in rows if a == article)
        assert score <= best + 1e-6
    assert [h[1] for h in hits] == sorted((h[1] for h in hits), reverse=True)


def test_centroids_are_unit_means_per_article() -> None:
    vectors = np.vstack([_unit(1, 0), _unit(0, 1), _unit(1, 1), _unit(-1, 0), _unit(1, 0)])
    centroids, row_centroid = article_centroids(vectors, np.asarray([5, 5, 9, 7, 7]))
    assert row_centroid.tolist() == [0, 0, 2, 1, 1]
    np.testing.assert_allclose(centroids[0], _unit(1, 1), atol=1e-6)
    np.testing.assert_allclose(centroids[1], [0, 0], atol=1e-6)  # passages cancel out
    np.testing.assert_allclose(centroids[2], _unit(1, 1), atol=1e-6)


def test_an_empty_index_finds_nothing() -> None:
    index = VectorIndex(StoredPassages.empty(4))
    assert index.search(_unit(1, 0, 0, 0), articles=3) == []
