"""Admin routes that move the whole knowledge base in and out: import (JSON, CSV or a zip of
Markdown files; validated in full, applied all or nothing) and export (the same formats).

Parsing and rendering run in a worker thread, and the import's writes in one transaction, so
customers keep being answered during a large import; the index refresher then swaps in the
new index off the request path (`?wait=true` answers once it is live).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from app.auth.deps import CurrentAdmin
from app.deps import DbDep
from app.error_responses import ADMIN, errors
from app.kb import exports
from app.kb.imports import (
    CSV_COLUMNS,
    MAX_FILE_BYTES,
    MAX_ZIP_BYTES,
    MAX_ZIP_ENTRIES,
    ImportFormat,
    apply_import,
    detect_format,
    read_import,
)
from app.kb.router import LiveChangesDep, WaitLive
from app.kb.schemas import ArticleStatus
from app.query_types import FLAG

router = APIRouter(prefix="/api/v1/admin/kb", tags=["knowledge base"], responses=ADMIN)

_binary = {"schema": {"type": "string", "format": "binary"}}
_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            'JSON `{"articles": [{title, body, questions, tags, status, slug}]}`; CSV with a '
            f"header row ({', '.join(CSV_COLUMNS)}; title and body required; questions "
            "separated by `|`, tags by `|` or `,`); or a zip of Markdown files with front "
            "matter, the slug being the path without `.md` "
            f"(at most {MAX_ZIP_ENTRIES} files, {MAX_ZIP_BYTES // 2**20} MiB uncompressed, "
            f"{MAX_FILE_BYTES // 2**10} KiB per file)."
        ),
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"articles": {"type": "array", "items": {"type": "object"}}},
                    "required": ["articles"],
                }
            },
            "text/csv": _binary,
            "application/zip": _binary,
        },
    }
}


class ImportResult(BaseModel):
    """What an import did (or, with `dry_run`, would do)."""

    created: int
    updated: int = Field(description="Existing slugs whose content or status changed.")
    unchanged: int
    revision: int = Field(description="The knowledge revision after the import.")
    dry_run: bool = False


@router.post(
    "/import",
    openapi_extra=_IMPORT_BODY,
    responses=errors(409, 415),
)
async def import_articles(
    request: Request,
    admin: CurrentAdmin,
    db: DbDep,
    changes: LiveChangesDep,
    response: Response,
    format_: Annotated[
        ImportFormat | None,
        Query(alias="format", description="Overrides the Content-Type."),
    ] = None,
    mode: Annotated[
        Literal["upsert"],
        Query(description="upsert: create new slugs, update known ones; others are kept."),
    ] = "upsert",
    dry_run: Annotated[
        bool, Query(description="Validate and count what would change; write nothing."), FLAG
    ] = False,
    wait: WaitLive = False,
) -> ImportResult:
    """Import articles: every row is validated first and the import applies all or nothing.
    An article whose slug exists gets a new version when its content or status differs;
    others are created (published unless a status is given)."""
    fmt = detect_format(request.headers.get("content-type"), format_)
    data = await request.body()
    drafts = await asyncio.to_thread(read_import, data, fmt)
    if dry_run:
        counts = await db.read(apply_import, drafts=drafts, author_id=admin.id, dry_run=True)
        return ImportResult(**counts, dry_run=True)
    counts = await changes.apply(response, wait, apply_import, drafts=drafts, author_id=admin.id)
    return ImportResult(**counts)


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {
            "description": "The file, as an attachment.",
            "content": {media: {} for media in exports.MEDIA_TYPES.values()},
        }
    },
)
async def export_articles(
    admin: CurrentAdmin,
    db: DbDep,
    format_: Annotated[ImportFormat, Query(alias="format")] = "json",
    status_filter: Annotated[ArticleStatus | None, Query(alias="status")] = None,
) -> Response:
    """Every article (all statuses unless `status` is given) as JSON, CSV or a Markdown zip,
    in the formats the import reads."""
    rows, revision = await db.read(exports.read_articles, status=status_filter)
    content: Any = await asyncio.to_thread(exports.render, format_, rows, revision=revision)
    return Response(
        content,
        media_type=exports.MEDIA_TYPES[format_],
        headers={
            "Content-Disposition": f'attachment; filename="{exports.file_name(format_)}"',
            "Cache-Control": "no-store",
            "X-Knowledge-Revision": str(revision),
            "X-Article-Count": str(len(rows)),
        },
    )
