"""The one way articles are written. Admins' edits through the API (app/kb/articles.py),
imports (app/kb/imports.py) and the knowledge-folder sync at start-up (app/kb/service.py) all
call `write_articles`, which inserts, updates and deletes article rows, records their versions
and moves the knowledge revision, in the caller's transaction (a synchronous `Connection`).

Versions. Every write names its `Change`; a version row stores it in `article_versions.change`
and the versions API shows it as is:

- `created`, `updated`, `reverted`: an admin created the article, edited it, or restored an
  earlier version (through the API; a knowledge-gap draft is `created` too);
- `import`: a knowledge-base import (an upload or `kb import`) created or changed it;
- `imported`: the article's text as the knowledge folder gave it.

A write other than the folder's saves the article's new state as a version numbered one more
than the article's `version` (a new article's is 1), with its author, and marks the article
`source = "api"`, which the folder sync never overwrites. The folder sync keeps no versions of
the articles it owns (`source = "file"`; the folder is their history): it replaces their text
in place and their `version` stays. So when another change first writes an article that has no
versions yet, the write saves the article's current state first, under its current `version`,
as `imported`, without an author, then the new state.

Revision. When what is published changes (a published article added, removed or edited, or an
article's status moving to or from `published`), `write_articles` bumps the knowledge revision
once, whatever the number of articles; the index refresher (app/kb/refresher.py) picks it up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from functools import cached_property
from typing import Any, Final, TypeVar

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.db import utcnow
from app.kb.loader import ArticleIn
from app.kb.models import Article, ArticleVersion, KbRevision
from app.kb.schemas import ArticleDraft

PUBLISHED: Final = "published"
FILE: Final = "file"  # articles.source of an article the folder sync owns
API: Final = "api"  # articles.source of every other article; the folder sync leaves it alone
BATCH_ROWS: Final = 500  # rows per bulk statement

Progress = Callable[[int, int], None]
"""Called with (done, total) as work advances (the CLI draws a progress bar from it)."""

_articles = Article.__table__
_versions = ArticleVersion.__table__
_revision = KbRevision.__table__
T = TypeVar("T")


class Change(StrEnum):
    """What saved a version: the value of `article_versions.change` (see the module's text)."""

    CREATED = "created"  # an admin created the article
    UPDATED = "updated"  # an admin edited it
    REVERTED = "reverted"  # an admin restored an earlier version
    IMPORT = "import"  # a knowledge-base import created or changed it
    FOLDER = "imported"  # its text from the knowledge folder


@dataclass(frozen=True)
class Content(ArticleIn):
    """What a write sets on one article: its text, as `ArticleIn` (whose `content_hash` the
    index keys the article's passages by), and its status."""

    status: str = PUBLISHED

    @classmethod
    def of_draft(cls, draft: ArticleDraft, *, slug: str) -> Content:
        """An admin's or an import's draft, under `slug`."""
        return cls(
            slug=slug,
            title=draft.title,
            body=draft.body,
            questions=tuple(draft.questions),
            tags=tuple(draft.tags),
            status=draft.status,
        )

    @classmethod
    def of_file(cls, article: ArticleIn) -> Content:
        """An article read from the knowledge folder (always published)."""
        return cls(**{f.name: getattr(article, f.name) for f in fields(ArticleIn)})

    @cached_property
    def content_hash(self) -> str:
        """`ArticleIn.content_hash`, computed once."""
        return super().content_hash

    def values(self) -> dict[str, Any]:
        """The article columns this content sets."""
        return {
            "slug": self.slug,
            "title": self.title,
            "body": self.body,
            "questions": list(self.questions),
            "tags": list(self.tags),
            "status": self.status,
            "content_hash": self.content_hash,
        }

    def differs_from(self, current: Mapping[str, Any]) -> bool:
        """Whether writing this over the article row `current` would change its content or
        status."""
        return current["content_hash"] != self.content_hash or current["status"] != self.status


@dataclass(frozen=True)
class Written:
    """What `write_articles` did."""

    created_ids: list[int]  # in the order of `creates`
    deleted: int


def bump_revision(conn: Connection) -> int:
    """Record that published knowledge changed; returns the new revision."""
    now = utcnow()
    current = conn.execute(
        update(_revision)
        .where(_revision.c.id == 1)
        .values(revision=_revision.c.revision + 1, updated_at=now)
        .returning(_revision.c.revision)
    ).scalar()
    if current is not None:
        return int(current)
    try:
        with conn.begin_nested():  # the very first change; another may be inserting it too
            conn.execute(insert(_revision).values(id=1, revision=1, updated_at=now))
        return 1
    except IntegrityError:
        return bump_revision(conn)


def get_revision(conn: Connection) -> int:
    """The knowledge revision (0 before anything was loaded)."""
    return int(conn.execute(select(_revision.c.revision).where(_revision.c.id == 1)).scalar() or 0)


def batches(items: Sequence[T], size: int = BATCH_ROWS) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def find_articles(
    conn: Connection, *, slugs: Sequence[str], source: str | None = None, lock: bool
) -> dict[str, dict[str, Any]]:
    """The article rows with one of `slugs`, and every one of `source` when given, by slug.
    With `lock` (PostgreSQL; SQLite's writing transactions hold the whole database) another
    transaction's write of these rows waits for the caller's to end."""
    queries = [select(_articles).where(_articles.c.slug.in_(batch)) for batch in batches(slugs)]
    if source is not None:
        queries.append(select(_articles).where(_articles.c.source == source))
    found: dict[str, dict[str, Any]] = {}
    for query in queries:
        if lock:
            query = query.with_for_update()
        found.update({row["slug"]: dict(row) for row in conn.execute(query).mappings()})
    return found


def write_articles(
    conn: Connection,
    *,
    change: Change | None = None,
    author_id: int | None = None,
    creates: Sequence[Content] = (),
    updates: Sequence[tuple[Mapping[str, Any], Content]] = (),
    deletes: Sequence[int] = (),
    progress: Progress | None = None,
) -> Written:
    """Create an article for each of `creates`, write each `(current row, content)` of
    `updates` over that article, and delete the articles whose ids are in `deletes` (with
    their versions), recording versions as the module's text says; `change` (required with
    `creates` or `updates`) names the change, `author_id` the admin who made it. The rows of
    `updates` should be read with a lock (`find_articles`, `articles.get_article`). Bumps the
    revision once if published knowledge changed. `progress` hears of creates and updates."""
    created_ids: list[int] = []
    published_changed = False
    if creates or updates:
        if change is None:
            raise ValueError("creating or updating articles needs a change to record")
        now = utcnow()
        total = len(creates) + len(updates)
        done = 0
        for batch in batches(creates):
            created_ids += _insert(conn, batch, change=change, author_id=author_id, now=now)
            published_changed |= any(content.status == PUBLISHED for content in batch)
            done += len(batch)
            if progress is not None:
                progress(done, total)
        for pairs in batches(updates):
            _update(conn, pairs, change=change, author_id=author_id, now=now)
            published_changed |= any(_changes_published(c, content) for c, content in pairs)
            done += len(pairs)
            if progress is not None:
                progress(done, total)
    deleted = 0
    for ids in batches(deletes):
        statuses = (
            conn.execute(
                delete(_articles).where(_articles.c.id.in_(ids)).returning(_articles.c.status)
            )
            .scalars()
            .all()
        )
        deleted += len(statuses)
        published_changed |= PUBLISHED in statuses  # as the rows were when deleted
    if published_changed:
        bump_revision(conn)
    return Written(created_ids=created_ids, deleted=deleted)


def _changes_published(current: Mapping[str, Any], content: Content) -> bool:
    was_live = current["status"] == PUBLISHED
    is_live = content.status == PUBLISHED
    return was_live != is_live or (is_live and content.content_hash != current["content_hash"])


def _version_row(
    article_id: int,
    version: int,
    state: Mapping[str, Any],
    *,
    change: Change,
    author_id: int | None,
    now: Any,
) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "version": version,
        "title": state["title"],
        "body": state["body"],
        "questions": list(state["questions"]),
        "tags": list(state["tags"]),
        "status": state["status"],
        "change": change.value,
        "author_id": author_id,
        "created_at": now,
    }


def _insert(
    conn: Connection,
    batch: Sequence[Content],
    *,
    change: Change,
    author_id: int | None,
    now: Any,
) -> list[int]:
    keeps_versions = change is not Change.FOLDER
    rows = [
        {
            **content.values(),
            "source": API if keeps_versions else FILE,
            "version": 1,
            "updated_by": author_id,
            "created_at": now,
            "updated_at": now,
        }
        for content in batch
    ]
    ids = list(
        conn.execute(
            insert(_articles).returning(_articles.c.id, sort_by_parameter_order=True), rows
        ).scalars()
    )
    if keeps_versions:
        conn.execute(
            insert(_versions),
            [
                _version_row(i, 1, row, change=change, author_id=author_id, now=now)
                for i, row in zip(ids, rows, strict=True)
            ],
        )
    return ids


def _update(
    conn: Connection,
    pairs: Sequence[tuple[Mapping[str, Any], Content]],
    *,
    change: Change,
    author_id: int | None,
    now: Any,
) -> None:
    keeps_versions = change is not Change.FOLDER
    columns = ("slug", "title", "body", "questions", "tags", "status", "content_hash")
    statement = (
        update(_articles)
        .where(_articles.c.id == bindparam("b_id"))
        .values(
            {name: bindparam(f"b_{name}") for name in columns}
            | {
                "source": API if keeps_versions else FILE,
                "version": bindparam("b_version"),
                "updated_by": author_id,
                "updated_at": now,
            }
        )
    )
    currents = [current for current, _ in pairs]
    versions = _folder_text(conn, currents, now=now) if keeps_versions else []
    params = []
    for current, content in pairs:
        values = content.values()
        version = current["version"] + 1 if keeps_versions else current["version"]
        params.append(
            {"b_id": current["id"], "b_version": version}
            | {f"b_{name}": values[name] for name in columns}
        )
        if keeps_versions:
            versions.append(
                _version_row(
                    current["id"], version, values, change=change, author_id=author_id, now=now
                )
            )
    conn.execute(statement, params)
    if versions:
        conn.execute(insert(_versions), versions)


def _folder_text(
    conn: Connection, currents: Sequence[Mapping[str, Any]], *, now: Any
) -> list[dict[str, Any]]:
    """`imported` versions of the rows in `currents` whose article has no versions yet."""
    ids = [current["id"] for current in currents]
    with_history = set(
        conn.execute(
            select(_versions.c.article_id).where(_versions.c.article_id.in_(ids)).distinct()
        ).scalars()
    )
    return [
        _version_row(c["id"], c["version"], c, change=Change.FOLDER, author_id=None, now=now)
        for c in currents
        if c["id"] not in with_history
    ]
