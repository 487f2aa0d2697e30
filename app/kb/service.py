"""Persistence of the knowledge folder's articles: syncing the folder into the database at
start-up, reading what is published.

The sync writes through app/kb/writes.py as `Change.FOLDER`: the articles it owns are
`source = "file"` and keep no versions (the folder is their history; see writes.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from app.kb import folder_deletions, writes
from app.kb.loader import ArticleIn
from app.kb.models import Article
from app.kb.writes import FILE, PUBLISHED, Change, Content, find_articles, write_articles


@dataclass(frozen=True)
class SyncReport:
    """What a folder sync changed."""

    added: int
    updated: int
    removed: int
    unchanged: int
    kept_deleted: int = 0  # files of articles deleted through the API, not created again
    restored: tuple[str, ...] = ()  # slugs deleted through the API whose file changed since

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return bool(self.added or self.updated or self.removed)


async def get_revision(session: AsyncSession) -> int:
    """The knowledge revision number (0 before anything was loaded)."""
    return await session.run_sync(lambda s: writes.get_revision(s.connection()))


def article_from_file(article_in: ArticleIn, **extra: Any) -> Article:
    """A published article row for an article read from the folder (`extra`: e.g. its id),
    with the content and source the sync stores."""
    return Article(**Content.of_file(article_in).values(), source=FILE, **extra)


async def sync_folder(session: AsyncSession, *, articles_in: list[ArticleIn]) -> SyncReport:
    """Make the file-sourced articles in the database match `articles_in` (by slug), in the
    session's transaction.

    Articles created through the API or an import are never touched; one whose slug collides
    with a file keeps its content. A file whose article was deleted through the API is skipped
    while it holds the same text; changed since, it is synced again (app/kb/folder_deletions.py).
    """
    return await session.run_sync(lambda s: _sync_folder(s.connection(), articles_in))


def _sync_folder(conn: Connection, articles_in: list[ArticleIn]) -> SyncReport:
    """`sync_folder` on a connection."""
    # Only file articles and those whose slug a file claims: not every API article's body.
    existing = find_articles(conn, slugs=[a.slug for a in articles_in], source=FILE, lock=True)
    deleted = folder_deletions.remembered(conn)
    creates: list[Content] = []
    updates: list[tuple[dict[str, Any], Content]] = []
    unchanged = kept_deleted = 0
    restored: list[str] = []
    for article_in in articles_in:
        content = Content.of_file(article_in)
        current = existing.pop(content.slug, None)
        if current is None:
            was_deleted = deleted.get(content.slug)
            if was_deleted == content.content_hash:
                kept_deleted += 1
                continue
            if was_deleted is not None:
                restored.append(content.slug)
            creates.append(content)
        elif current["source"] == FILE and content.differs_from(current):
            updates.append((current, content))
        else:
            unchanged += 1
    gone = [row["id"] for row in existing.values() if row["source"] == FILE]
    write_articles(conn, change=Change.FOLDER, creates=creates, updates=updates, deletes=gone)
    in_folder = {a.slug for a in articles_in}
    folder_deletions.forget(conn, [*restored, *(s for s in deleted if s not in in_folder)])
    return SyncReport(
        added=len(creates),
        updated=len(updates),
        removed=len(gone),
        unchanged=unchanged,
        kept_deleted=kept_deleted,
        restored=tuple(restored),
    )


async def list_published(session: AsyncSession) -> list[Article]:
    """Every published article, by id."""
    rows = await session.scalars(
        select(Article).where(Article.status == PUBLISHED).order_by(Article.id)
    )
    return list(rows.all())
