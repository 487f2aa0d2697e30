"""The live knowledge index: builds the vector index from published articles and answers searches.

Searches read an immutable snapshot; a rebuild makes a new snapshot and swaps the reference in
one assignment, so a search never sees a half-built index. The FAISS index is exact or IVF by
the number of passages (`app.kb.ann`); a start with nothing changed reads the persisted one.
How articles are scored (best passage cosine, adjusted by how well each article's centroid fits
the query) is described in `app.kb.vector_index`.

A new index that cannot be written to the index folder (disk full, read-only) still serves:
the problem is named in `storage` (shown on /readyz) and the write retried until it succeeds.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from app.kb.ann import (
    EXACT_MAX,
    IndexChoice,
    build_index,
    choose_index,
    load_index,
    save_index,
)
from app.kb.exact_terms import ExactTerms
from app.kb.models import Article
from app.kb.passages import PASSAGES_VERSION, article_passages
from app.kb.vector_index import CENTROID_WEIGHT, StoredPassages, VectorIndex
from app.storage import StorageProblem, StorageWatch, classify

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
    """An article that matched a query, with its score, the kind of passage that matched, and
    the message's identifying terms it holds (app/kb/exact_terms.py)."""

    article: ArticleRef
    score: float
    matched: str
    exact: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildReport:
    """What the last index build did."""

    articles: int
    passages: int
    embedded: int
    seconds: float
    revision: int
    index_kind: str = "flat"  # the FAISS index: "flat" (exact) or "ivf" (app.kb.ann)
    index: str = ""  # a description of it
    index_source: str = "built"  # "built", "disk" (read back unchanged) or "unchanged"


@dataclass(frozen=True)
class _Snapshot:
    index: VectorIndex
    articles: dict[int, ArticleRef]
    revision: int
    exact: ExactTerms = field(default_factory=lambda: ExactTerms(()))


@dataclass
class _BuildPlan:
    """The passages of a build, in order, and which of them still need a vector."""

    rows: list[np.ndarray] = field(default_factory=list)
    article_ids: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    to_embed: list[tuple[int, str]] = field(default_factory=list)  # (row, text)


def _plan_build(
    cached: StoredPassages, articles: list[Article], chunk_words: int, dimension: int
) -> _BuildPlan:
    """Lay out every article's passages, reusing cached vectors of unchanged articles."""
    reusable: dict[tuple[int, str], list[int]] = {}
    for row, (aid, digest) in enumerate(
        zip(cached.article_ids.tolist(), cached.content_hashes, strict=True)
    ):
        reusable.setdefault((aid, digest), []).append(row)
    plan = _BuildPlan()
    for article in articles:
        passages = article_passages(
            article.title, article.body, article.questions, max_words=chunk_words
        )
        cached_rows = reusable.get((article.id, article.content_hash))
        if cached_rows is not None and len(cached_rows) == len(passages):
            plan.rows.extend(cached.vectors[r] for r in cached_rows)
        else:
            for passage in passages:
                plan.to_embed.append((len(plan.rows), passage.text))
                plan.rows.append(np.zeros(dimension, np.float32))  # filled after encoding
        for passage in passages:
            plan.article_ids.append(article.id)
            plan.kinds.append(passage.kind)
            plan.texts.append(passage.text)
            plan.hashes.append(article.content_hash)
    return plan


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
        exact_max: int = EXACT_MAX,
        nprobe: int | None = None,
    ) -> None:
        self._folder = folder
        self._exact_max = exact_max
        self._nprobe = nprobe
        self._model_key = f"{model_key}:p{PASSAGES_VERSION}:w{chunk_words}"
        self._dimension = dimension
        self._chunk_words = chunk_words
        self._centroid_weight = centroid_weight
        self._snapshot = _Snapshot(
            VectorIndex(StoredPassages.empty(dimension), centroid_weight=centroid_weight), {}, 0
        )
        self.last_build: BuildReport | None = None
        self._built = False
        # The last built index while it could not be written to `folder` (see save_pending).
        self._unsaved: tuple[StoredPassages, faiss.Index] | None = None
        self.storage = StorageWatch("the knowledge index folder")

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
        """Index `articles`, embedding only passages whose article changed, then swap in.

        Unchanged passages are reused from the live snapshot (or, on the first build, from the
        persisted store); only new or edited articles are encoded. Building the FAISS index and
        saving the store run in a worker thread, so searches keep being answered from the old
        snapshot until the new one is swapped in with one assignment."""
        started = time.perf_counter()
        cached = self._snapshot.index.passages
        if not self._built:
            cached = await asyncio.to_thread(
                StoredPassages.load,
                self._folder,
                model_key=self._model_key,
                dimension=self._dimension,
            )
        plan = await asyncio.to_thread(
            _plan_build, cached, articles, self._chunk_words, self._dimension
        )
        if plan.to_embed:
            fresh = await encode([text for _, text in plan.to_embed])
            for (position, _), vector in zip(plan.to_embed, fresh, strict=True):
                plan.rows[position] = vector
        index, choice, source = await asyncio.to_thread(
            self._assemble,
            plan,
            cached,
            changed=bool(plan.to_embed) or len(cached.kinds) != len(plan.kinds),
        )
        refs = {a.id: ArticleRef(a.id, a.slug, a.title, a.body) for a in articles}
        exact = await asyncio.to_thread(ExactTerms, zip(plan.article_ids, plan.texts, strict=True))
        self._snapshot = _Snapshot(index, refs, revision, exact)
        self._built = True
        report = BuildReport(
            articles=len(articles),
            passages=len(plan.kinds),
            embedded=len(plan.to_embed),
            seconds=time.perf_counter() - started,
            revision=revision,
            index_kind=choice.kind,
            index=choice.describe(),
            index_source=source,
        )
        self.last_build = report
        log.info(
            "knowledge index ready: revision %d, %d articles, %d passages, %d embedded, "
            "%s (%s), %.2fs",
            report.revision,
            report.articles,
            report.passages,
            report.embedded,
            report.index,
            report.index_source,
            report.seconds,
        )
        return report

    def _assemble(
        self, plan: _BuildPlan, cached: StoredPassages, *, changed: bool
    ) -> tuple[VectorIndex, IndexChoice, str]:
        """The new snapshot's index (in a worker thread), and how it was made. With nothing
        changed since the store on disk, its persisted FAISS index is read back; otherwise the
        store is saved and the index built (reusing the live IVF's trained centroids)."""
        choice = choose_index(len(plan.kinds), exact_max=self._exact_max, nprobe=self._nprobe)
        live = self._snapshot.index
        if not changed and self._built and live.passages is cached:
            return live, choice, "unchanged"
        if not changed and cached.build_id:
            loaded = load_index(self._folder, build_id=cached.build_id, choice=choice)
            if loaded is not None:
                index = VectorIndex(cached, centroid_weight=self._centroid_weight, index=loaded)
                return index, choice, "disk"
        vectors = (
            np.vstack(plan.rows).astype(np.float32)
            if plan.rows
            else np.zeros((0, self._dimension), np.float32)
        )
        stored = StoredPassages(
            vectors,
            np.asarray(plan.article_ids, np.int64),
            plan.kinds,
            plan.texts,
            plan.hashes,
            uuid.uuid4().hex,
        )
        ann = build_index(vectors, choice, trained=live.faiss_index)
        self._unsaved = (stored, ann)
        self.save_pending()
        return (
            VectorIndex(stored, centroid_weight=self._centroid_weight, index=ann),
            choice,
            "built",
        )

    def save_pending(self) -> bool:
        """Persist the last built index if it is not saved yet (in a worker thread); False if
        it still cannot be. A failure to write (disk full, read-only folder) does not stop the
        new index from serving: it is named in `storage` (/readyz) and retried by the
        refresher until it goes through."""
        pending = self._unsaved
        if pending is None:
            return True
        stored, ann = pending
        try:
            stored.save(self._folder, model_key=self._model_key)
            save_index(ann, self._folder, build_id=stored.build_id)
        except OSError as exc:
            problem = classify(exc, path=self._folder)
            if problem is None:
                problem = StorageProblem(
                    "cannot_open", str(self._folder), f"{type(exc).__name__}: {exc}"
                )
            self.storage.failed(problem)
            return False
        if self._unsaved is pending:
            self._unsaved = None
        self.storage.succeeded()
        return True

    def overlay(self, folder: Path) -> KnowledgeIndex:
        """A private copy serving this index's current snapshot, whose `rebuild` saves into
        `folder` and swaps only the copy's snapshot: "what if these articles were published"
        without touching the live index (unchanged articles' vectors are reused)."""
        twin = copy.copy(self)
        twin._folder = folder
        twin._unsaved = None
        twin.last_build = None
        twin.storage = StorageWatch("a knowledge overlay folder")
        return twin

    def snapshot_vectors(self) -> tuple[StoredPassages, dict[int, ArticleRef]]:
        """The live snapshot's passage vectors and its articles, read together (read-only: for
        reports such as near-duplicate articles; do not modify the arrays)."""
        snapshot = self._snapshot
        return snapshot.index.passages, snapshot.articles

    def search(self, query: np.ndarray, *, limit: int) -> list[KbHit]:
        """The best `limit` articles for a unit query vector, best first."""
        return self.search_many(np.asarray(query).reshape(1, -1), limit=limit)[0]

    def search_many(
        self, queries: np.ndarray, *, limit: int, texts: list[str] | None = None
    ) -> list[list[KbHit]]:
        """`search` for each row of `queries` (safe from any thread: it reads one snapshot);
        with the queries' `texts`, each hit also names the identifying terms it holds."""
        snapshot = self._snapshot
        found = snapshot.index.search_many(queries, articles=limit)
        results = []
        for row, ranked in enumerate(found):
            exact = (
                snapshot.exact.matches(texts[row], [aid for aid, _, _ in ranked]) if texts else {}
            )
            results.append(
                [
                    KbHit(ref, max(0.0, min(1.0, score)), kind, exact.get(article_id, ()))
                    for article_id, score, kind in ranked
                    if (ref := snapshot.articles.get(article_id)) is not None
                ]
            )
        return results
