"""Admins' article editing: create, update, delete, list and search, every version kept,
revert; the caller owns the transaction (a synchronous `Connection`, via `Database.run`).

The writes go through app/kb/writes.py, which records each version (`created`, `updated`,
`reverted`) and bumps the knowledge revision in the same transaction when published knowledge
changes; the index refresher (app/kb/refresher.py) sees the new revision and swaps in a rebuilt
index off the request path. An article edited through the API becomes `source = "api"`, so
the knowledge folder sync at start-up never overwrites an admin's edit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.engine import Connection

from app.auth.models import User
from app.errors import ArticleNotFound, Conflict, NotFound, Unprocessable
from app.kb import folder_deletions
from app.kb.models import Article, ArticleVersion
from app.kb.schemas import ArticleDraft
from app.kb.writes import Change, Content, write_articles
from app.kb.writes import get_revision as get_revision  # read here by the router, refresher

_articles = Article.__table__
_versions = ArticleVersion.__table__
_users = User.__table__


def slugify(title: str) -> str:
    """A lower-case URL-safe name made from a title."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:180] or "article"


def _free_slug(conn: Connection, wanted: str, *, exclude_id: int | None = None) -> str:
    taken = {
        row
        for row in conn.execute(
            select(_articles.c.slug).where(
                or_(_articles.c.slug == wanted, _articles.c.slug.like(f"{wanted}-%")),
                _articles.c.id != (exclude_id or -1),
            )
        ).scalars()
    }
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}-{n}" in taken:
        n += 1
    return f"{wanted}-{n}"


def get_article(conn: Connection, *, article_id: int, lock: bool = False) -> dict[str, Any]:
    """One article (404 if there is none). With `lock` (PostgreSQL), another transaction's
    write of it waits for the caller's to end."""
    query = select(_articles).where(_articles.c.id == article_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise ArticleNotFound(article_id)
    return dict(row)


def list_articles(
    conn: Connection,
    *,
    query: str | None = None,
    tag: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """Articles matching the filters (newest edits first) and how many match in all. `query`
    looks in the title, body and alternate questions (case-insensitive); `tag` is exact."""
    conditions = []
    if query:
        needle = f"%{query.lower()}%"
        conditions.append(
            or_(
                func.lower(_articles.c.title).like(needle),
                func.lower(_articles.c.body).like(needle),
                func.lower(cast(_articles.c.questions, String)).like(needle),
            )
        )
    if status:
        conditions.append(_articles.c.status == status)
    if tag:
        # JSON arrays are stored as text on both databases' JSON type: match the quoted tag.
        conditions.append(cast(_articles.c.tags, String).like(f'%"{tag.lower()}"%'))
    total = conn.execute(select(func.count()).select_from(_articles).where(*conditions)).scalar()
    rows = conn.execute(
        select(_articles)
        .where(*conditions)
        .order_by(_articles.c.updated_at.desc(), _articles.c.id.desc())
        .offset(offset)
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows], int(total or 0)


def create_article(
    conn: Connection, *, draft: ArticleDraft, author_id: int | None
) -> dict[str, Any]:
    """Store a new article (version 1, `created`); bumps the revision when it is published."""
    if draft.slug:
        exists = conn.execute(select(_articles.c.id).where(_articles.c.slug == draft.slug)).first()
        if exists is not None:
            raise Conflict(f"an article with slug {draft.slug!r} exists; choose another slug")
    slug = draft.slug or _free_slug(conn, slugify(draft.title))
    written = write_articles(
        conn,
        change=Change.CREATED,
        author_id=author_id,
        creates=[Content.of_draft(draft, slug=slug)],
    )
    return get_article(conn, article_id=written.created_ids[0])


def update_article(
    conn: Connection,
    *,
    article_id: int,
    draft: ArticleDraft,
    author_id: int | None,
    expected_version: int | None = None,
    change: Change = Change.UPDATED,
) -> dict[str, Any]:
    """Replace an article's content (a new version, saved as `change`). With
    `expected_version`, 409 if someone saved another version since. Bumps the revision when
    published knowledge changes."""
    current = get_article(conn, article_id=article_id, lock=True)
    if expected_version is not None and expected_version != current["version"]:
        raise Conflict(
            f"article {article_id} is at version {current['version']}, not {expected_version}; "
            "reload it and apply your edit again",
            current_version=current["version"],
        )
    slug = current["slug"]
    if draft.slug and draft.slug != slug:
        taken = conn.execute(
            select(_articles.c.id).where(
                _articles.c.slug == draft.slug, _articles.c.id != article_id
            )
        ).first()
        if taken is not None:
            raise Conflict(f"an article with slug {draft.slug!r} exists; choose another slug")
        slug = draft.slug
    write_articles(
        conn,
        change=change,
        author_id=author_id,
        updates=[(current, Content.of_draft(draft, slug=slug))],
    )
    return get_article(conn, article_id=article_id)


def delete_article(conn: Connection, *, article_id: int, deleted_by: int | None = None) -> None:
    """Delete an article and its history; bumps the revision if it was published. An article
    that came from the knowledge folder stays deleted across restarts (`folder_deletions`)."""
    current = get_article(conn, article_id=article_id, lock=True)
    from_folder = folder_deletions.folder_hash(conn, current)
    if not write_articles(conn, deletes=[article_id]).deleted:
        raise ArticleNotFound(article_id)
    if from_folder is not None:
        folder_deletions.remember(
            conn, slug=current["slug"], content_hash=from_folder, deleted_by=deleted_by
        )


def list_versions(conn: Connection, *, article_id: int) -> list[dict[str, Any]]:
    """Every saved version of an article, newest first, with its author's name."""
    get_article(conn, article_id=article_id)
    rows = conn.execute(
        select(_versions, _users.c.name.label("author_name"))
        .select_from(_versions.outerjoin(_users, _users.c.id == _versions.c.author_id))
        .where(_versions.c.article_id == article_id)
        .order_by(_versions.c.version.desc())
    ).mappings()
    return [dict(r) for r in rows]


def revert_article(
    conn: Connection, *, article_id: int, version: int, author_id: int | None
) -> dict[str, Any]:
    """Save a new version with the content (and status) of an earlier one."""
    old = (
        conn.execute(
            select(_versions).where(
                _versions.c.article_id == article_id, _versions.c.version == version
            )
        )
        .mappings()
        .first()
    )
    if old is None:
        get_article(conn, article_id=article_id)
        raise NotFound(f"article {article_id} has no version {version}")
    try:
        draft = ArticleDraft(
            title=old["title"],
            body=old["body"],
            questions=list(old["questions"]),
            tags=list(old["tags"]),
            status=old["status"],
        )
    except ValidationError as exc:  # e.g. a file article beyond the API's limits
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise Unprocessable(
            f"version {version} cannot be restored as it is ({problems}); edit the article instead"
        ) from exc
    return update_article(
        conn, article_id=article_id, draft=draft, author_id=author_id, change=Change.REVERTED
    )


def with_revision(
    fn: Callable[..., Any],
) -> Callable[..., tuple[Any, int]]:
    """`fn` over a connection, returning its result and the knowledge revision after it."""

    def run(conn: Connection, **kwargs: Any) -> tuple[Any, int]:
        result = fn(conn, **kwargs)
        return result, get_revision(conn)

    return run
