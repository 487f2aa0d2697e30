"""Keeps the live index at the database's knowledge revision, off the request path.

One background task per process. It wakes when this process changed the knowledge base, when
another process announced a change on the broker's `kb` channel (Redis pub/sub when
configured), or every `poll_seconds` regardless, and compares the stored revision with the
index's. When they differ it rebuilds: only new or edited articles are embedded, the FAISS
index is built in a worker thread, and the new snapshot replaces the old one in one
assignment, so customers are answered from the old index until the new one is complete.
Changes arriving during a rebuild are picked up by the next one. An index that could not be
written to its folder is written again on every wake until it is (`save_pending`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.db import Database
from app.kb import articles as article_service
from app.kb.knowledge import BuildReport, EncodeMany, KnowledgeIndex
from app.kb.models import Article
from app.realtime.broker import Broker

log = logging.getLogger(__name__)

KB_CHANNEL = "kb"
_articles = Article.__table__


def published_articles(conn: Connection) -> tuple[int, list[Article]]:
    """The knowledge revision and every published article (detached rows), read together."""
    revision = article_service.get_revision(conn)
    rows = conn.execute(
        select(_articles).where(_articles.c.status == "published").order_by(_articles.c.id)
    ).mappings()
    return revision, [Article(**dict(r)) for r in rows]


class IndexRefresher:
    """The background task that swaps in a rebuilt index whenever the revision moves."""

    def __init__(
        self,
        *,
        db: Database,
        knowledge: KnowledgeIndex,
        encode: EncodeMany,
        broker: Broker,
        poll_seconds: float = 2.0,
    ) -> None:
        self._db = db
        self._knowledge = knowledge
        self._encode = encode
        self._broker = broker
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._built = asyncio.Condition()
        self._tasks: list[asyncio.Task[Any]] = []
        self.last_error: str | None = None

    def start(self) -> None:
        """Start watching (call once, from the running loop)."""
        self._tasks = [
            asyncio.create_task(self._run(), name="kb-refresher"),
            asyncio.create_task(self._listen(), name="kb-listener"),
        ]

    async def stop(self) -> None:
        """Stop watching."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def changed(self, revision: int) -> None:
        """Announce that this process moved the knowledge base to `revision`: rebuild here
        now, and tell the other processes."""
        self._wake.set()
        await self._broker.publish(KB_CHANNEL, {"type": "kb.changed", "revision": revision})

    async def wait_for(self, revision: int, timeout: float = 30.0) -> bool:
        """Wait until the live index is at `revision` or later (False on timeout)."""

        async def reached() -> None:
            async with self._built:
                await self._built.wait_for(lambda: self._knowledge.revision >= revision)

        try:
            await asyncio.wait_for(reached(), timeout)
        except TimeoutError:
            return False
        return True

    async def refresh(self) -> BuildReport | None:
        """Rebuild if the stored revision differs from the index's; returns the build."""
        if await self._db.read(article_service.get_revision) == self._knowledge.revision:
            return None  # the common case on every poll: one tiny read, nothing loaded
        revision, published = await self._db.read(published_articles)
        report = await self._knowledge.rebuild(published, revision=revision, encode=self._encode)
        async with self._built:
            self._built.notify_all()
        return report

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            self._wake.clear()
            try:
                await self.refresh()
                # A built index the folder could not take yet (disk full, read-only): again.
                await asyncio.to_thread(self._knowledge.save_pending)
                self.last_error = None
            except Exception as exc:  # the old index keeps serving; retried on the next wake
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("knowledge index refresh failed; still serving the previous one")

    async def _listen(self) -> None:
        while True:
            try:
                async with self._broker.subscribe(KB_CHANNEL) as subscription:
                    async for _event in subscription:
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # broker lost: polling still catches every change
                log.warning("knowledge change notices unavailable; polling", exc_info=True)
                await asyncio.sleep(self._poll_seconds)
