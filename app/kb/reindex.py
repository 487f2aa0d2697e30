"""Rebuilds the persisted vector index (`<data_dir>/index`) from the published articles in the
database, outside the server (`python -m app kb reindex`).

By default only passages missing from the stored index (new or edited articles) are embedded;
`full` re-embeds everything into a fresh file that then replaces the old one in one rename, so
a server starting meanwhile reads either the old or the new index, never a mix. A running
server keeps its own in-memory index (it follows the database revision by itself); the file
makes the next start fast.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.config import Settings
from app.db import Database
from app.kb.ann import INDEX_FILE, INDEX_META_FILE
from app.kb.knowledge import BuildReport, KnowledgeIndex
from app.kb.refresher import published_articles
from app.kb.vector_index import STORE_FILE
from app.nlp.embedder import Embedder

EMBED_BATCH = 64
Progress = Callable[[int, int], None]


async def reindex(
    settings: Settings,
    *,
    full: bool = False,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> BuildReport:
    """Bring the stored index up to date with the database (all of it again with `full`);
    `progress(done, total)` follows the passages embedded."""
    db = Database(settings.sqlalchemy_url)
    try:
        await db.migrate()
        revision, published = await db.read(published_articles)
    finally:
        await db.dispose()
    if embedder is None:
        embedder = await asyncio.to_thread(Embedder.from_settings, settings)
    model = embedder

    async def encode(texts: list[str]) -> np.ndarray:
        vectors = []
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start : start + EMBED_BATCH]
            vectors.append(await asyncio.to_thread(model.encode, batch))
            if progress is not None:
                progress(start + len(batch), len(texts))
        if not vectors:
            return np.zeros((0, model.dimension), np.float32)
        return np.vstack(vectors)

    target = settings.index_dir
    target.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="reindex.", dir=target)) if full else target
    try:
        knowledge = KnowledgeIndex(
            folder=folder,
            model_key=embedder.key,
            dimension=embedder.dimension,
            chunk_words=settings.retrieval.chunk_words,
            exact_max=settings.retrieval.exact_max_passages,
            nprobe=settings.retrieval.ivf_nprobe,
        )
        report = await knowledge.rebuild(published, revision=revision, encode=encode)
        if full:  # the new files replace the old ones; none left when nothing is published
            for name in (STORE_FILE, INDEX_FILE, INDEX_META_FILE):
                if (folder / name).exists():
                    os.replace(folder / name, target / name)
                else:
                    (target / name).unlink(missing_ok=True)
    finally:
        if full:
            shutil.rmtree(folder, ignore_errors=True)
    return report
