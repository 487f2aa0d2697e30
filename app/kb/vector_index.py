"""The FAISS index over article passages, with article-level scoring and a persisted cache.

Article score: the best cosine similarity among the article's title, alternate questions and body
chunks, minus a penalty when the article as a whole fits the query less well than another
article found:

    score(a) = best_cosine(a) - CENTROID_WEIGHT * (best_closeness - closeness(a))

where `closeness(a)` is the cosine between the query and the article's centroid (the normalised
mean of all its passage vectors) and `best_closeness` is the highest closeness among the articles
found for the query. The article the centroids prefer keeps its best cosine, so the answer
threshold keeps its meaning; the others lose in proportion to how far behind they are. One
passage that happens to share a phrasing with the query ("create an account" for "delete my
account") does not win over an article all of whose phrasings agree with it, and the runner-up
is pushed away from the best unless the centroids cannot tell them apart either, which is what
the policy's `ambiguity_margin` then catches (re-calibrate it with `scripts/calibrate_policy.py`
when the weight changes: gaps are wider than with the best passage alone). The weight was chosen
by `scripts/eval_scoring.py` on validation data only (CLINC150 val, Bitext dev, BANKING77-OOS
val; StackFAQ dev as a guard). Centroids are recomputed from the stored vectors whenever an index
is built, so none are persisted.

Vectors are persisted with the content hash of the article they came from, so a rebuild
re-embeds only articles whose content changed (none after a restart with the same content).
Which FAISS index searches them (exact, or IVF for large knowledge bases) and how it is
persisted is `app.kb.ann`'s part.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from scipy import sparse

from app.kb.ann import build_index, choose_index

log = logging.getLogger(__name__)


def search_on_one_thread() -> None:
    """Make FAISS searches from the calling thread use one OpenMP thread (the setting is per
    thread: call it in every thread that searches)."""
    faiss.omp_set_num_threads(1)


search_on_one_thread()  # one query searches fastest on one thread

STORE_FILE = "passages.npz"
# How many points of best-passage cosine an article loses per point of centroid closeness it
# trails the best article found by (0: the best passage alone scores the article).
CENTROID_WEIGHT = 1.0


@dataclass(frozen=True)
class StoredPassages:
    """Embedded passages: row i of `vectors` belongs to `article_ids[i]`."""

    vectors: np.ndarray  # (n, d) float32, unit length
    article_ids: np.ndarray  # (n,) int64
    kinds: list[str]
    texts: list[str]
    content_hashes: list[str]  # per row: the hash of the article version it was made from
    build_id: str = ""  # names this set of rows; a persisted FAISS index records it

    @classmethod
    def empty(cls, dimension: int) -> StoredPassages:
        """No passages."""
        return cls(np.zeros((0, dimension), np.float32), np.zeros(0, np.int64), [], [], [])

    def save(self, folder: Path, *, model_key: str) -> None:
        """Write to `folder/passages.npz` in one atomic replace (vectors and their metadata
        can never come from two different builds)."""
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "model_key": model_key,
            "build_id": self.build_id,
            "kinds": self.kinds,
            "texts": self.texts,
            "content_hashes": self.content_hashes,
        }
        handle, tmp_name = tempfile.mkstemp(dir=folder, prefix="passages.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(
                    out,
                    vectors=self.vectors,
                    article_ids=self.article_ids,
                    meta=np.array(json.dumps(meta)),
                )
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, folder / STORE_FILE)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise

    @classmethod
    def load(cls, folder: Path, *, model_key: str, dimension: int) -> StoredPassages:
        """What `save` wrote for the same model, or empty when absent, stale or unreadable."""
        try:
            with np.load(folder / STORE_FILE, allow_pickle=False) as stored:
                vectors = stored["vectors"]
                article_ids = stored["article_ids"]
                meta = json.loads(str(stored["meta"]))
        except FileNotFoundError:
            return cls.empty(dimension)
        except Exception as exc:  # truncated, damaged or foreign file: rebuild rather than fail
            log.warning("ignoring unreadable index file in %s (%s); re-embedding", folder, exc)
            return cls.empty(dimension)
        rows = len(article_ids)
        if (
            meta.get("model_key") != model_key
            or vectors.shape != (rows, dimension)
            or not (len(meta["kinds"]) == len(meta["texts"]) == len(meta["content_hashes"]) == rows)
        ):
            return cls.empty(dimension)
        return cls(
            np.ascontiguousarray(vectors, dtype=np.float32),
            np.asarray(article_ids, dtype=np.int64),
            list(meta["kinds"]),
            list(meta["texts"]),
            list(meta["content_hashes"]),
            str(meta.get("build_id", "")),
        )


class VectorIndex:
    """Inner-product search over unit vectors (cosine), read-only once built: over `index`, a
    FAISS index of `passages.vectors` in row order (see `app.kb.ann`), or an exact one."""

    def __init__(
        self,
        passages: StoredPassages,
        *,
        centroid_weight: float = CENTROID_WEIGHT,
        index: faiss.Index | None = None,
    ) -> None:
        self.passages = passages
        self.centroid_weight = centroid_weight
        if index is None:
            index = build_index(passages.vectors, choose_index(len(passages.kinds)))
        if index.ntotal != len(passages.kinds):
            raise ValueError(f"index has {index.ntotal} rows, passages {len(passages.kinds)}")
        self._index = index
        self._centroids, self._row_centroid = article_centroids(
            passages.vectors, passages.article_ids
        )

    @property
    def faiss_index(self) -> faiss.Index:
        """The FAISS index searched (read-only)."""
        return self._index

    @property
    def size(self) -> int:
        """Number of passages indexed."""
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, *, articles: int) -> list[tuple[int, float, str]]:
        """The best `articles` articles for a unit query vector, best first: (article_id, score,
        kind of the best passage). Articles are those with a passage among the query's nearest
        `max(32, 16 * articles)` passages, scored as the module docstring says."""
        return self.search_many(np.asarray(query).reshape(1, -1), articles=articles)[0]

    def search_many(
        self, queries: np.ndarray, *, articles: int
    ) -> list[list[tuple[int, float, str]]]:
        """`search` for each row of `queries`, with one call into the index."""
        if self.size == 0 or articles <= 0:
            return [[] for _ in range(len(queries))]
        vectors = np.ascontiguousarray(queries, dtype=np.float32)
        depth = min(self.size, max(32, articles * 16))
        scores, rows = self._index.search(vectors, depth)
        return [self._rank(vectors[i], rows[i], scores[i], articles) for i in range(len(vectors))]

    def _rank(
        self, vector: np.ndarray, rows: np.ndarray, scores: np.ndarray, articles: int
    ) -> list[tuple[int, float, str]]:
        """The articles of one query's nearest passages, ranked (see `search`)."""
        found = rows >= 0
        rows, cosine = rows[found], scores[found].astype(np.float64)
        # Each article's first (so best) passage among the nearest, in order of best cosine.
        _, first = np.unique(self.passages.article_ids[rows], return_index=True)
        first.sort()
        rows, cosine = rows[first], cosine[first]
        final = cosine
        if self.centroid_weight and len(rows) > 1:
            closeness = (self._centroids[self._row_centroid[rows]] @ vector).astype(np.float64)
            final = cosine - self.centroid_weight * (closeness.max() - closeness)
        order = np.argsort(-final, kind="stable")[:articles]  # ties keep the cosine order
        return [
            (int(self.passages.article_ids[rows[i]]), float(final[i]), self.passages.kinds[rows[i]])
            for i in order.tolist()
        ]


def article_centroids(
    vectors: np.ndarray, article_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-length mean of each article's passage vectors, and for every row the index of its
    article's centroid. An article whose passages cancel out gets a zero centroid. The sums are
    one sparse (articles x rows) product: no copy of the vectors, a fraction of a second for
    300,000 passages."""
    dimension = vectors.shape[1]
    rows = len(article_ids)
    if not rows:
        return np.zeros((0, dimension), np.float32), np.zeros(0, np.int64)
    ids, row_centroid = np.unique(article_ids, return_inverse=True)
    row_centroid = row_centroid.reshape(-1)
    groups = sparse.csr_matrix(
        (np.ones(rows, np.float32), (row_centroid, np.arange(rows))), shape=(len(ids), rows)
    )
    sums = np.asarray(groups @ vectors, dtype=np.float32)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    centroids = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 1e-6)
    return centroids, row_centroid.astype(np.int64)
