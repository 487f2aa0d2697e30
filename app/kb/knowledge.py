"""The live knowledge index: builds the vector index from published articles and answers searches.

Searches read an immutable snapshot; a rebuild makes a new snapshot and swaps the reference in
one assignment, so a search never sees a half-built index. How articles are scored (best passage
cosine, adjusted by how well each article's centroid fits the query) is described in
`app.kb.vector_index`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.kb.models import Article
from app.kb.passages import PASSAGES_VERSION, article_passages
from app.kb.vector_index import CENTROID_WEIGHT, StoredPassages, VectorIndex

log = logging.getLogger(__name__)

EncodeMany = Callable[[list[str]], Awaitable[np.ndarray]]


@dataclass(frozen=True)
class ArticleRef:
    """What a reply needs to know about an article."""

    id: int
    slug: str
    title: str
    body: str


@dataclass(frozen=True)
class KbHit:
    """An article that matched a query, with its score and the kind of passage that matched."""

    article: ArticleRef
    score: float
    matched: str


@dataclass(frozen=True)
class BuildReport:
    """What the last index build did."""

    articles: int
    passages: int
    embedded: int
    seconds: float
    revision: int


@dataclass(frozen=True)
class _Snapshot:
    index: VectorIndex
    articles: dict[int, ArticleRef]
    revision: int


class KnowledgeIndex:
    """Holds the current searchable snapshot of published knowledge."""

    def __init__(
        self,
        *,
        folder: Path,
        model_key: str,
        dimension: int,
        chunk_words: int,
        centroid_weight: float = CENTROID_WEIGHT,
    ) -> None:
        self._folder = folder
        self._model_key = f"{model_key}:p{PASSAGES_VERSION}:w{chunk_words}"
        self._dimension = dimension
        self._chunk_words = chunk_words
        self._centroid_weight = centroid_weight
        self._snapshot = _Snapshot(
            VectorIndex(StoredPassages.empty(dimension), centroid_weight=centroid_weight), {}, 0
        )
        self.last_build: BuildReport | None = None

    @property
    def revision(self) -> int:
        """The knowledge revision the current snapshot was built from."""
        return self._snapshot.revision

    @property
    def article_count(self) -> int:
        """Published articles searchable now."""
        return len(self._snapshot.articles)

    async def rebuild(
        self, articles: list[Article], *, revision: int, encode: EncodeMany
    ) -> BuildReport:
        """Index `articles`, embedding only passages not already persisted, then swap in."""
        started = time.perf_counter()
        cached = StoredPassages.load(
            self._folder, model_key=self._model_key, dimension=self._dimension
        )
        reusable: dict[tuple[int, str], list[int]] = {}
        for row, (aid, digest) in enumerate(
            zip(cached.article_ids.tolist(), cached.content_hashes, strict=True)
        ):
            reusable.setdefault((aid, digest), []).append(row)

        rows: list[np.ndarray] = []
        article_ids: list[int] = []
        kinds: list[str] = []
        texts: list[str] = []
        hashes: list[str] = []
        to_embed: list[tuple[int, str]] = []  # (position in output, text)
        for article in articles:
            passages = article_passages(
                article.title, article.body, article.questions, max_words=self._chunk_words
            )
            cached_rows = reusable.get((article.id, article.content_hash))
            if cached_rows is not None and len(cached_rows) == len(passages):
                rows.extend(cached.vectors[r] for r in cached_rows)
            else:
                for passage in passages:
                    to_embed.append((len(rows), passage.text))
                    rows.append(np.zeros(self._dimension, np.float32))  # filled below
            for passage in passages:
                article_ids.append(article.id)
                kinds.append(passage.kind)
                texts.append(passage.text)
                hashes.append(article.content_hash)
        if to_embed:
            fresh = await encode([text for _, text in to_embed])
            for (position, _), vector in zip(to_embed, fresh, strict=True):
                rows[position] = vector
        vectors = (
            np.vstack(rows).astype(np.float32)
            if rows
            else np.zeros((0, self._dimension), np.float32)
        )
        stored = StoredPassages(vectors, np.asarray(article_ids, np.int64), kinds, texts, hashes)
        if to_embed or len(cached.kinds) != len(kinds):
            stored.save(self._folder, model_key=self._model_key)
        refs = {a.id: ArticleRef(a.id, a.slug, a.title, a.body) for a in articles}
        index = VectorIndex(stored, centroid_weight=self._centroid_weight)
        self._snapshot = _Snapshot(index, refs, revision)
        report = BuildReport(
            articles=len(articles),
            passages=len(kinds),
            embedded=len(to_embed),
            seconds=time.perf_counter() - started,
            revision=revision,
        )
        self.last_build = report
        log.info(
            "knowledge index ready: %d articles, %d passages, %d embedded, %.2fs",
            report.articles,
            report.passages,
            report.embedded,
            report.seconds,
        )
        return report

    def search(self, query: np.ndarray, *, limit: int) -> list[KbHit]:
        """The best `limit` articles for a unit query vector, best first."""
        snapshot = self._snapshot
        hits: list[KbHit] = []
        for article_id, score, kind in snapshot.index.search(query, articles=limit):
            ref = snapshot.articles.get(article_id)
            if ref is not None:
                hits.append(KbHit(ref, max(0.0, min(1.0, score)), kind))
        return hits
