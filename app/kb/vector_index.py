"""The FAISS index over article passages, with article-level scoring and a persisted cache.

An article's score is the best cosine similarity among its title, alternate questions and body
chunks. Vectors are persisted with the content hash of the article they came from, so a rebuild
re-embeds only articles whose content changed (none after a restart with the same content).
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

log = logging.getLogger(__name__)

faiss.omp_set_num_threads(1)  # one query searches fastest on one thread

STORE_FILE = "passages.npz"


@dataclass(frozen=True)
class StoredPassages:
    """Embedded passages: row i of `vectors` belongs to `article_ids[i]`."""

    vectors: np.ndarray  # (n, d) float32, unit length
    article_ids: np.ndarray  # (n,) int64
    kinds: list[str]
    texts: list[str]
    content_hashes: list[str]  # per row: the hash of the article version it was made from

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
        )


class VectorIndex:
    """Exact inner-product search over unit vectors (cosine), read-only once built."""

    def __init__(self, passages: StoredPassages) -> None:
        self.passages = passages
        dimension = passages.vectors.shape[1]
        self._index = faiss.IndexFlatIP(dimension)
        if len(passages.kinds):
            self._index.add(passages.vectors)

    @property
    def size(self) -> int:
        """Number of passages indexed."""
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, *, articles: int) -> list[tuple[int, float, str]]:
        """The best `articles` articles for a unit query vector: (article_id, score, kind)."""
        if self.size == 0:
            return []
        depth = min(self.size, max(32, articles * 16))
        scores, rows = self._index.search(query.reshape(1, -1).astype(np.float32), depth)
        best: dict[int, tuple[float, str]] = {}
        for score, row in zip(scores[0], rows[0], strict=True):
            if row < 0:
                continue
            article_id = int(self.passages.article_ids[row])
            if article_id not in best:
                best[article_id] = (float(score), self.passages.kinds[row])
                if len(best) == articles:
                    break
        return [(aid, score, kind) for aid, (score, kind) in best.items()]
