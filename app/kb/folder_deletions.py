"""Knowledge-folder articles deleted through the API, remembered so the folder sync at start
does not create them again.

An article that came from the knowledge folder (its own `source = "file"` row, or an API edit
of one whose folder text is its `imported` version) leaves a row here when an admin deletes it:
its slug and the content hash of its folder text. At the next start the sync skips a file
with that slug while the file still holds that text. A file changed since the deletion is a
new statement by whoever edits the folder: it is synced again and the row is dropped (the
sync's log names it). A row whose file has left the folder is dropped too, so the file coming
back later counts as new.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from app.db import utcnow
from app.kb.loader import ArticleIn
from app.kb.models import ArticleVersion, FolderDeletion
from app.kb.writes import FILE, Change

_deletions = FolderDeletion.__table__
_versions = ArticleVersion.__table__


def folder_hash(conn: Connection, article: Mapping[str, Any]) -> str | None:
    """The content hash of the folder text the article row `article` came from, or None
    when it did not come from the knowledge folder."""
    if article["source"] == FILE:
        return str(article["content_hash"])
    original = (
        conn.execute(
            select(_versions)
            .where(
                _versions.c.article_id == article["id"], _versions.c.change == Change.FOLDER.value
            )
            .order_by(_versions.c.version)
            .limit(1)
        )
        .mappings()
        .first()
    )
    if original is None:
        return None
    return ArticleIn(
        slug=article["slug"],
        title=original["title"],
        body=original["body"],
        questions=tuple(original["questions"]),
        tags=tuple(original["tags"]),
    ).content_hash


def remember(
    conn: Connection, *, slug: str, content_hash: str, deleted_by: int | None = None
) -> None:
    """Record that the folder article `slug` (folder text `content_hash`) was deleted."""
    conn.execute(delete(_deletions).where(_deletions.c.slug == slug))
    conn.execute(
        insert(_deletions).values(
            slug=slug, content_hash=content_hash, deleted_by=deleted_by, deleted_at=utcnow()
        )
    )


def remembered(conn: Connection) -> dict[str, str]:
    """Every remembered deletion: slug -> the content hash of its folder text then."""
    rows = conn.execute(select(_deletions.c.slug, _deletions.c.content_hash)).all()
    return {slug: content_hash for slug, content_hash in rows}


def forget(conn: Connection, slugs: Iterable[str]) -> None:
    """Drop the remembered deletions of `slugs`."""
    slugs = list(slugs)
    if slugs:
        conn.execute(delete(_deletions).where(_deletions.c.slug.in_(slugs)))
