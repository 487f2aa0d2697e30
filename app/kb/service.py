"""Persistence of articles: syncing the folder into the database, reading what is published."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kb import articles
from app.kb.loader import ArticleIn
from app.kb.models import Article


@dataclass(frozen=True)
class SyncReport:
    """What a folder sync changed."""

    added: int
    updated: int
    removed: int
    unchanged: int

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return bool(self.added or self.updated or self.removed)


async def get_revision(session: AsyncSession) -> int:
    """The knowledge revision number (0 before anything was loaded)."""
    return await session.run_sync(lambda s: articles.get_revision(s.connection()))


async def bump_revision(session: AsyncSession) -> int:
    """Record that published knowledge changed; returns the new revision."""
    return await session.run_sync(lambda s: articles.bump_revision(s.connection()))


def article_from_file(article_in: ArticleIn, **extra: Any) -> Article:
    """A published article row for an article read from the folder (`extra`: e.g. its id)."""
    return Article(
        slug=article_in.slug,
        title=article_in.title,
        body=article_in.body,
        questions=list(article_in.questions),
        tags=list(article_in.tags),
        status="published",
        source="file",
        content_hash=article_in.content_hash,
        **extra,
    )


async def sync_folder(session: AsyncSession, *, articles_in: list[ArticleIn]) -> SyncReport:
    """Make the file-sourced articles in the database match `articles_in` (by slug).

    Articles created through the API are never touched; an API article whose slug collides
    with a file keeps its content.
    """
    # Only file articles and those whose slug a file claims: not every API article's body.
    slugs = [a.slug for a in articles_in]
    query = select(Article).where(or_(Article.source == "file", Article.slug.in_(slugs)))
    existing = {a.slug: a for a in (await session.scalars(query)).all()}
    added = updated = unchanged = removed = 0
    seen: set[str] = set()
    for article_in in articles_in:
        seen.add(article_in.slug)
        current = existing.get(article_in.slug)
        if current is None:
            session.add(article_from_file(article_in))
            added += 1
        elif current.source != "file" or current.content_hash == article_in.content_hash:
            unchanged += 1
        else:
            current.title = article_in.title
            current.body = article_in.body
            current.questions = list(article_in.questions)
            current.tags = list(article_in.tags)
            current.content_hash = article_in.content_hash
            updated += 1
    for slug, article in existing.items():
        if article.source == "file" and slug not in seen:
            await session.delete(article)
            removed += 1
    report = SyncReport(added=added, updated=updated, removed=removed, unchanged=unchanged)
    if report.changed:
        await session.flush()
        await bump_revision(session)
    return report


async def list_published(session: AsyncSession) -> list[Article]:
    """Every published article, by id."""
    rows = await session.scalars(
        select(Article).where(Article.status == "published").order_by(Article.id)
    )
    return list(rows.all())
