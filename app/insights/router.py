"""Admin routes of the insights: the knowledge-gaps report, a draft article from one of its
clusters, and the knowledge-base health report."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from app.auth.deps import CurrentAdmin
from app.db import utcnow
from app.deps import BatcherDep, DbDep, EmbedderDep, SettingsDep
from app.error_responses import ADMIN, errors
from app.insights import gaps, health
from app.insights.schemas import GapReport, KbHealth
from app.kb.deps import KnowledgeDep
from app.kb.schemas import ArticleRead
from app.query_types import WHOLE


async def gap_sources(
    db: DbDep,
    batcher: BatcherDep,
    embedder: EmbedderDep,
    knowledge: KnowledgeDep,
    settings: SettingsDep,
) -> gaps.GapSources:
    """What finding gaps reads, from the running service."""
    return gaps.GapSources(
        db=db,
        batcher=batcher,
        model_key=embedder.key,
        dimension=embedder.dimension,
        knowledge=knowledge,
        answer_threshold=settings.policy.answer_threshold,
    )


GapSourcesDep = Annotated[gaps.GapSources, Depends(gap_sources)]

router = APIRouter(prefix="/api/v1/admin/insights", tags=["insights"], responses=ADMIN)

Days = Annotated[int, Query(ge=1, le=365, description="How many days back to look."), WHOLE]
MinSize = Annotated[
    int, Query(ge=1, le=10_000, description="Smallest cluster reported (questions)."), WHOLE
]
ClusterId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[0-9a-f]+$",
        description="A cluster id from GET /api/v1/admin/insights/gaps.",
    ),
]


@router.get("/gaps")
async def knowledge_gaps(
    admin: CurrentAdmin,
    sources: GapSourcesDep,
    days: Days = 30,
    min_size: MinSize = 2,
    limit: Annotated[int, Query(ge=1, le=200, description="Clusters returned."), WHOLE] = 20,
) -> GapReport:
    """Recent customer questions the bot could not answer (it asked to clarify, or handed off
    for low confidence or repeated misses), grouped by meaning, largest group first; each with
    examples, when it was asked, and the closest published article: what to write next."""
    report, clusters, held = await gaps.find_clusters(sources, days=days, min_size=min_size)
    report.clusters = [gaps.summarise(sources, c, held) for c in clusters[:limit]]
    return report


@router.post(
    "/gaps/{cluster_id}/draft", status_code=status.HTTP_201_CREATED, responses=errors(404, 409)
)
async def draft_from_gap(
    cluster_id: ClusterId,
    admin: CurrentAdmin,
    db: DbDep,
    sources: GapSourcesDep,
    days: Days = 30,
    min_size: MinSize = 2,
) -> ArticleRead:
    """Turn a knowledge-gap cluster into a draft article: its most typical question as the
    title, its questions as alternate questions, a body saying what to write. Drafts answer
    nobody until published. Pass the `days` and `min_size` the report was read with; 404 when
    the cluster is gone, 409 when an article already holds its questions."""
    _, clusters, held = await gaps.find_clusters(sources, days=days, min_size=min_size)
    cluster = gaps.pick(clusters, cluster_id, days=days, min_size=min_size)
    summary = gaps.summarise(sources, cluster, held)
    row = await db.run(gaps.create_draft, cluster=cluster, summary=summary, author_id=admin.id)
    return ArticleRead.model_validate(row)


@router.get("/kb-health")
async def kb_health(
    admin: CurrentAdmin, db: DbDep, knowledge: KnowledgeDep, days: Days = 30
) -> KbHealth:
    """Published articles that look like near-duplicates of each other, published articles no
    bot reply cited, suggested or ranked first in the last `days` days (oldest first), and
    article counts by status. Near-duplicates are read from the live index, so an article
    saved a moment ago appears once it is indexed (within seconds)."""
    since = utcnow() - timedelta(days=days)
    counts, never, replies = await db.read(health.health_data, since=since)
    passages, articles = knowledge.snapshot_vectors()
    pairs = await asyncio.to_thread(health.near_duplicates, passages, articles)
    return KbHealth(
        days=days,
        since=since,
        replies=replies,
        counts=counts,
        duplicate_threshold=health.DUPLICATE_THRESHOLD,
        near_duplicates=pairs,
        never_matched=never,
    )
