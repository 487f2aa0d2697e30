"""Admin routes of the knowledge base: articles (list, search, create, edit, delete, versions,
revert) and "try it" (what the bot would do with a message, and why).

Every change commits first, then wakes the index refresher (and, through the broker, the other
processes); `?wait=true` answers only once the change is live in this process's index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from app.auth.deps import CurrentAdmin
from app.db import Database
from app.deps import DbDep
from app.error_responses import ADMIN, errors
from app.errors import ServiceUnavailable
from app.kb import articles as article_service
from app.kb.deps import RefresherDep
from app.kb.refresher import IndexRefresher
from app.kb.schemas import (
    ArticleDraft,
    ArticlePage,
    ArticleRead,
    ArticleStatus,
    ArticleUpdate,
    VersionRead,
)
from app.query_types import FLAG, WHOLE

router = APIRouter(prefix="/api/v1/admin", tags=["knowledge base"], responses=ADMIN)

ArticleId = Annotated[int, Path(ge=1, le=2**63 - 1, description="An article's id."), WHOLE]
WaitLive = Annotated[
    bool,
    Query(
        alias="wait",
        description="Answer only once the change is live in the index (up to 30 s).",
    ),
    FLAG,
]
LIVE_TIMEOUT_SECONDS = 30.0


class LiveChanges:
    """Changes to the knowledge base, each committed and then made live."""

    def __init__(self, db: Database, refresher: IndexRefresher | None) -> None:
        self._db = db
        self._refresher = refresher

    async def apply(
        self, response: Response, wait: bool, fn: Callable[..., Any], **kwargs: Any
    ) -> Any:
        """Run a change in one transaction, then make it live (waiting for it when asked)."""
        result, revision = await self._db.run(article_service.with_revision(fn), **kwargs)
        refresher = self._refresher
        assert refresher is not None
        await refresher.changed(revision)
        response.headers["X-Knowledge-Revision"] = str(revision)
        if wait and not await refresher.wait_for(revision, LIVE_TIMEOUT_SECONDS):
            raise ServiceUnavailable(
                "the change is saved but the index did not pick it up in time; it will shortly",
                revision=revision,
            )
        return result


async def live_changes(db: DbDep, refresher: RefresherDep) -> LiveChanges:
    """Knowledge-base changes on this service's database and index."""
    return LiveChanges(db, refresher)


LiveChangesDep = Annotated[LiveChanges, Depends(live_changes)]


@router.get("/kb/articles")
async def list_articles(
    admin: CurrentAdmin,
    db: DbDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Words in the title, body or questions.")
    ] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    status_filter: Annotated[ArticleStatus | None, Query(alias="status")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000), WHOLE] = 0,
    limit: Annotated[int, Query(ge=1, le=200), WHOLE] = 50,
) -> ArticlePage:
    """Articles, most recently edited first, with search, tag and status filters."""
    items, total = await db.read(
        article_service.list_articles,
        query=q,
        tag=tag,
        status=status_filter,
        offset=offset,
        limit=limit,
    )
    return ArticlePage(
        items=[ArticleRead.model_validate(i) for i in items],
        total=total,
        offset=offset,
        limit=limit,
    )


@router.post("/kb/articles", status_code=status.HTTP_201_CREATED, responses=errors(409))
async def create_article(
    draft: ArticleDraft,
    admin: CurrentAdmin,
    changes: LiveChangesDep,
    response: Response,
    wait: WaitLive = False,
) -> ArticleRead:
    """Write a new article; a published one answers customers within seconds."""
    row = await changes.apply(
        response, wait, article_service.create_article, draft=draft, author_id=admin.id
    )
    return ArticleRead.model_validate(row)


@router.get("/kb/articles/{article_id}", responses=errors(404))
async def get_article(article_id: ArticleId, admin: CurrentAdmin, db: DbDep) -> ArticleRead:
    """One article."""
    row = await db.read(article_service.get_article, article_id=article_id)
    return ArticleRead.model_validate(row)


@router.put("/kb/articles/{article_id}", responses=errors(404, 409))
async def update_article(
    article_id: ArticleId,
    article_in: ArticleUpdate,
    admin: CurrentAdmin,
    changes: LiveChangesDep,
    response: Response,
    wait: WaitLive = False,
) -> ArticleRead:
    """Replace an article (a new version). Send the `version` you edited to be told (409)
    when someone else saved in between."""
    draft = ArticleDraft.model_validate(article_in.model_dump(exclude={"version"}))
    row = await changes.apply(
        response,
        wait,
        article_service.update_article,
        article_id=article_id,
        draft=draft,
        author_id=admin.id,
        expected_version=article_in.version,
    )
    return ArticleRead.model_validate(row)


@router.delete(
    "/kb/articles/{article_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404)
)
async def delete_article(
    article_id: ArticleId,
    admin: CurrentAdmin,
    changes: LiveChangesDep,
    response: Response,
    wait: WaitLive = False,
) -> Response:
    """Delete an article and its history (archive it instead to keep them). An article of the
    knowledge folder stays deleted after a restart until its file changes."""
    await changes.apply(
        response, wait, article_service.delete_article, article_id=article_id, deleted_by=admin.id
    )
    response.status_code = status.HTTP_204_NO_CONTENT
    return response


@router.get("/kb/articles/{article_id}/versions", responses=errors(404))
async def list_versions(article_id: ArticleId, admin: CurrentAdmin, db: DbDep) -> list[VersionRead]:
    """Every saved version, newest first, with who saved it and when."""
    rows = await db.read(article_service.list_versions, article_id=article_id)
    return [
        VersionRead.model_validate(
            {
                **r,
                "author": {"id": r["author_id"], "name": r["author_name"]}
                if r["author_id"] is not None
                else None,
            }
        )
        for r in rows
    ]


@router.post("/kb/articles/{article_id}/versions/{version}/revert", responses=errors(404))
async def revert_article(
    article_id: ArticleId,
    version: Annotated[int, Path(ge=1, le=2**31 - 1), WHOLE],
    admin: CurrentAdmin,
    changes: LiveChangesDep,
    response: Response,
    wait: WaitLive = False,
) -> ArticleRead:
    """Save a new version with the content and status of `version`."""
    row = await changes.apply(
        response,
        wait,
        article_service.revert_article,
        article_id=article_id,
        version=version,
        author_id=admin.id,
    )
    return ArticleRead.model_validate(row)
