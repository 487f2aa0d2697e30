"""Admin routes of the analytics: the dashboard's summary and a CSV of one row per
conversation, for a range of whole UTC days."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.analytics import service
from app.analytics.schemas import AnalyticsSummary
from app.auth.deps import CurrentAdmin
from app.deps import DbDep
from app.error_responses import ADMIN
from app.query_types import DAY

router = APIRouter(prefix="/api/v1/admin/analytics", tags=["analytics"], responses=ADMIN)

From = Annotated[
    date | None,
    Query(
        alias="from",
        description="First UTC day (YYYY-MM-DD), included; default: 29 days before `to`.",
    ),
    DAY,
]
To = Annotated[
    date | None,
    Query(alias="to", description="Last UTC day (YYYY-MM-DD), included; default: today."),
    DAY,
]


@router.get("/summary")
async def summary(
    admin: CurrentAdmin, db: DbDep, start: From = None, end: To = None
) -> AnalyticsSummary:
    """The dashboard: conversations per day, containment (engaged conversations never handed
    to a person), handoffs by reason, CSAT average and response rate, agents' first response
    and resolution times (median and 90th percentile, overall and per agent) and the top
    intents with their containment, all read from the event log. The range defaults to the
    last 30 days; 422 when `from` is after `to` or the range spans more than 366 days."""
    w = service.window(start, end)
    return await db.read(service.summary, w=w)


@router.get(
    "/conversations.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per conversation."}},
)
async def conversations_csv(
    admin: CurrentAdmin, db: DbDep, start: From = None, end: To = None
) -> StreamingResponse:
    """One row per conversation started in the range, oldest first: id, created_at, status,
    handed_off, handoff_reason, agent, first_response_seconds, resolution_seconds, csat,
    messages. Streamed in pages, so a long range never sits in memory whole."""
    w = service.window(start, end)

    async def lines() -> AsyncIterator[str]:
        yield service.csv_header()
        cursor: service.Cursor | None = None
        while True:
            text, cursor = await db.read(service.csv_page, w=w, after=cursor)
            if text:
                yield text
            if cursor is None:
                return

    filename = f"switchboard-conversations-{w.start.isoformat()}-to-{w.end.isoformat()}.csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
