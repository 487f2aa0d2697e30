"""Expiry of conversations that never got a customer message: each process sweeps every
`retention.sweep_minutes` and deletes those opened more than `retention.empty_conversation_hours`
ago that hold no message at all (`last_seq = 0`; their events go with them by cascade).

The condition is part of the DELETE itself, so it is safe across processes and against a
customer writing at that moment: a turn raises `last_seq` in the same row first (and a
conversation with any message has `last_seq > 0`), and deleting what another process already
deleted deletes nothing. Deletes run in batches so that no transaction holds the writer long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from app.config import RetentionSettings
from app.conversations.models import Conversation
from app.db import Database, utcnow

log = logging.getLogger(__name__)

_conversations = Conversation.__table__
BATCH = 500


def delete_empty(conn: Connection, *, opened_before: datetime, batch: int = BATCH) -> int:
    """Delete up to `batch` conversations opened before `opened_before` with no message;
    returns how many."""
    empty = (
        select(_conversations.c.id)
        .where(_conversations.c.last_seq == 0, _conversations.c.created_at < opened_before)
        .limit(batch)
        .scalar_subquery()
    )
    result = conn.execute(
        delete(_conversations).where(
            _conversations.c.id.in_(empty),
            _conversations.c.last_seq == 0,
            _conversations.c.created_at < opened_before,
        )
    )
    return int(result.rowcount or 0)


async def sweep_once(db: Database, settings: RetentionSettings) -> int:
    """Delete every expired empty conversation now; returns how many were deleted."""
    opened_before = utcnow() - timedelta(hours=settings.empty_conversation_hours)
    total = 0
    while True:
        deleted = await db.run(delete_empty, opened_before=opened_before)
        total += deleted
        if deleted < BATCH:
            return total


class EmptyConversationSweeper:
    """The periodic sweep of one process (see the module docstring)."""

    def __init__(self, db: Database, settings: RetentionSettings) -> None:
        self._db = db
        self._settings = settings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sweep now and then every `sweep_minutes`, until `stop`."""
        self._task = asyncio.create_task(self._run(), name="empty-conversation-sweep")

    async def _run(self) -> None:
        while True:
            try:
                deleted = await sweep_once(self._db, self._settings)
                if deleted:
                    log.info("deleted %d conversations that never got a message", deleted)
            except Exception as exc:  # the next sweep tries again
                log.warning("the sweep of empty conversations failed: %s", type(exc).__name__)
            await asyncio.sleep(self._settings.sweep_minutes * 60)

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
