"""Admin routes of the knowledge base: articles (list, search, create, edit, delete, versions,
revert) and "try it" (what the bot would do with a message, and why).

Every change commits first, then wakes the index refresher (and, through the broker, the other
processes); `?wait=true` answers only once the change is live in this process's index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy.engine import Connection

from app.auth.deps import CurrentAdmin
from app.conversations.dialog import Dialog
from app.conversations.turn import plan_reply, understand
from app.deps import RuntimeDep
from app.errors import ServiceUnavailable
from app.kb import articles as article_service
from app.kb.schemas import (
    ArticleDraft,
    ArticlePage,
    ArticleRead,
    ArticleStatus,
    ArticleUpdate,
    TryIn,
    VersionRead,
)
from app.runtime import Runtime

router = APIRouter(prefix="/api/v1/admin", tags=["knowledge base"])

ArticleId = Annotated[int, Path(ge=1, le=2**63 - 1, description="An article's id.")]
WaitLive = Annotated[
    bool,
    Query(
        alias="wait",
        description="Answer only once the change is live in the index (up to 30 s).",
    ),
]
LIVE_TIMEOUT_SECONDS = 30.0


def _with_revision(
    fn: Callable[..., Any],
) -> Callable[..., tuple[Any, int]]:
    def run(conn: Connection, **kwargs: Any) -> tuple[Any, int]:
        result = fn(conn, **kwargs)
        return result, article_service.get_revision(conn)

    return run


async def _change(
    runtime: Runtime, response: Response, wait: bool, fn: Callable[..., Any], **kwargs: Any
) -> Any:
    """Run a change in one transaction, then make it live (waiting for it when asked)."""
    result, revision = await runtime.db.run(_with_revision(fn), **kwargs)
    refresher = runtime.refresher
    assert refresher is not None
    await refresher.changed(revision)
    response.headers["X-Knowledge-Revision"] = str(revision)
    if wait and not await refresher.wait_for(revision, LIVE_TIMEOUT_SECONDS):
        raise ServiceUnavailable(
            "the change is saved but the index did not pick it up in time; it will shortly",
            revision=revision,
        )
    return result


@router.get("/kb/articles")
async def list_articles(
    admin: CurrentAdmin,
    runtime: RuntimeDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Words in the title, body or questions.")
    ] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    status_filter: Annotated[ArticleStatus | None, Query(alias="status")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ArticlePage:
    """Articles, most recently edited first, with search, tag and status filters."""
    items, total = await runtime.db.read(
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


@router.post("/kb/articles", status_code=status.HTTP_201_CREATED)
async def create_article(
    draft: ArticleDraft,
    admin: CurrentAdmin,
    runtime: RuntimeDep,
    response: Response,
    wait: WaitLive = False,
) -> ArticleRead:
    """Write a new article; a published one answers customers within seconds."""
    row = await _change(
        runtime, response, wait, article_service.create_article, draft=draft, author_id=admin.id
    )
    return ArticleRead.model_validate(row)


@router.get("/kb/articles/{article_id}")
async def get_article(
    article_id: ArticleId, admin: CurrentAdmin, runtime: RuntimeDep
) -> ArticleRead:
    """One article."""
    row = await runtime.db.read(article_service.get_article, article_id=article_id)
    return ArticleRead.model_validate(row)


@router.put("/kb/articles/{article_id}")
async def update_article(
    article_id: ArticleId,
    article_in: ArticleUpdate,
    admin: CurrentAdmin,
    runtime: RuntimeDep,
    response: Response,
    wait: WaitLive = False,
) -> ArticleRead:
    """Replace an article (a new version). Send the `version` you edited to be told (409)
    when someone else saved in between."""
    draft = ArticleDraft.model_validate(article_in.model_dump(exclude={"version"}))
    row = await _change(
        runtime,
        response,
        wait,
        article_service.update_article,
        article_id=article_id,
        draft=draft,
        author_id=admin.id,
        expected_version=article_in.version,
    )
    return ArticleRead.model_validate(row)


@router.delete("/kb/articles/{article_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_article(
    article_id: ArticleId,
    admin: CurrentAdmin,
    runtime: RuntimeDep,
    response: Response,
    wait: WaitLive = False,
) -> Response:
    """Delete an article and its history (archive it instead to keep them)."""
    await _change(runtime, response, wait, article_service.delete_article, article_id=article_id)
    response.status_code = status.HTTP_204_NO_CONTENT
    return response


@router.get("/kb/articles/{article_id}/versions")
async def list_versions(
    article_id: ArticleId, admin: CurrentAdmin, runtime: RuntimeDep
) -> list[VersionRead]:
    """Every saved version, newest first, with who saved it and when."""
    rows = await runtime.db.read(article_service.list_versions, article_id=article_id)
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


@router.post("/kb/articles/{article_id}/versions/{version}/revert")
async def revert_article(
    article_id: ArticleId,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    admin: CurrentAdmin,
    runtime: RuntimeDep,
    response: Response,
    wait: WaitLive = False,
) -> ArticleRead:
    """Save a new version with the content and status of `version`."""
    row = await _change(
        runtime,
        response,
        wait,
        article_service.revert_article,
        article_id=article_id,
        version=version,
        author_id=admin.id,
    )
    return ArticleRead.model_validate(row)


@router.post("/try")
async def try_message(try_in: TryIn, admin: CurrentAdmin, runtime: RuntimeDep) -> dict[str, Any]:
    """What the bot would answer to `text` as the first message of a conversation, and why:
    the articles and scores it found, the intent guess, sentiment, and the policy's decision
    with its reason. Nothing is stored and no integration is called."""
    understanding = await understand(runtime, try_in.text)
    reply = plan_reply(runtime, understanding, Dialog())
    meta = reply.meta
    return {
        "text": try_in.text,
        "reply": {
            "kind": meta["kind"],
            "text": reply.text,
            "reason": meta["reason"],
            "intent": meta["intent"],
            "handoff_reason": meta["handoff_reason"],
            "confidence": meta["confidence"],
            "sources": meta["sources"],
            "suggestions": meta["suggestions"],
        },
        "decision": meta["decision"],
        "signals": meta["signals"],
        "articles": [
            {
                "article_id": h.article.id,
                "title": h.article.title,
                "score": round(h.score, 4),
                "matched": h.matched,
            }
            for h in understanding.hits
        ],
        "kb_confidence": round(understanding.kb_confidence, 4),
        "knowledge_revision": runtime.knowledge.revision,
    }
