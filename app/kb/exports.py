"""Knowledge-base exports: every article (optionally of one status) as JSON, CSV or a zip of
Markdown files, in the formats app/kb/imports.py reads, so an export re-imports unchanged.

- JSON: `{"exported_at", "revision", "count", "articles": [...]}`; each article has the fields
  an import reads plus `id`, `version`, `source`, `updated_by`, `created_at`, `updated_at`
  (for information; an import ignores them).
- CSV: columns slug, title, body, questions (`|`-separated), tags (`|`-separated), status;
  UTF-8 with a byte-order mark so that spreadsheets read accents correctly. A cell that a
  spreadsheet would run as a formula (`=HYPERLINK(...`, a body starting with `- `) gets a `'`
  in front (app/spreadsheet_cells.py), which the import removes.
- zip: `<slug>.md` per article (a slug with `/` makes folders), front matter `title`,
  `questions`, `tags` and `status`, as in `knowledge_base/`. Note that the folder loader
  ignores `status`: unzipping drafts into `knowledge_base/` would publish them.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.db import utcnow
from app.kb.imports import CSV_COLUMNS, ImportFormat, join_list
from app.kb.models import Article
from app.kb.writes import get_revision
from app.spreadsheet_cells import escape_formula

MEDIA_TYPES: dict[ImportFormat, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
}
_articles = Article.__table__


def read_articles(
    conn: Connection, *, status: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Every article (of `status` when given), by slug, and the knowledge revision."""
    query = select(_articles).order_by(_articles.c.slug)
    if status:
        query = query.where(_articles.c.status == status)
    rows = [dict(row) for row in conn.execute(query).mappings()]
    return rows, get_revision(conn)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def to_json(rows: list[dict[str, Any]], *, revision: int) -> bytes:
    """The JSON export."""
    articles = [
        {
            "slug": row["slug"],
            "title": row["title"],
            "body": row["body"],
            "questions": list(row["questions"]),
            "tags": list(row["tags"]),
            "status": row["status"],
            "id": row["id"],
            "version": row["version"],
            "source": row["source"],
            "updated_by": row["updated_by"],
            "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["updated_at"]),
        }
        for row in rows
    ]
    document = {
        "exported_at": utcnow().isoformat(),
        "revision": revision,
        "count": len(articles),
        "articles": articles,
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """The CSV export."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        cells = [
            row["slug"],
            row["title"],
            row["body"],
            join_list(row["questions"], "|"),
            join_list(row["tags"], "|,"),
            row["status"],
        ]
        writer.writerow([escape_formula(cell) for cell in cells])
    return out.getvalue().encode("utf-8-sig")


def article_markdown(row: Mapping[str, Any]) -> str:
    """One article as Markdown with front matter (the `knowledge_base/` format)."""
    meta: dict[str, Any] = {"title": row["title"]}
    if row["questions"]:
        meta["questions"] = list(row["questions"])
    if row["tags"]:
        meta["tags"] = list(row["tags"])
    meta["status"] = row["status"]
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1_000_000)
    return f"---\n{front}---\n\n{row['body']}\n"


def to_zip(rows: list[dict[str, Any]]) -> bytes:
    """The zip export."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for row in rows:
            archive.writestr(f"{row['slug']}.md", article_markdown(row))
    return out.getvalue()


def render(fmt: ImportFormat, rows: list[dict[str, Any]], *, revision: int) -> bytes:
    """The export file's content in `fmt`."""
    if fmt == "json":
        return to_json(rows, revision=revision)
    if fmt == "csv":
        return to_csv(rows)
    return to_zip(rows)


def file_name(fmt: ImportFormat) -> str:
    """A download name such as `switchboard-kb-20260101-120000.json`."""
    return f"switchboard-kb-{utcnow():%Y%m%d-%H%M%S}.{fmt}"
