"""Knowledge-base imports: read a JSON, CSV or Markdown-zip file into validated article drafts,
then apply them to the database all or nothing.

Formats (the export in app/kb/exports.py writes the same ones, so an export re-imports as is):

- JSON: `{"articles": [{title, body, questions, tags, status, slug}, ...]}` (or a bare list).
  Fields an export adds for information (`id`, `version`, `source`, ...) are ignored.
- CSV: a header row naming `title` and `body`, optionally `questions` (separated by `|`), `tags`
  (separated by `|` or `,`), `status` and `slug`. A backslash escapes a separator in a value
  (`\\|`) and itself (`\\\\`). UTF-8, with or without a byte-order mark. A cell the export
  escaped for spreadsheets (`'=...`, app/spreadsheet_cells.py) reads back as it was.
- zip: Markdown files with front matter, as in `knowledge_base/`; an article's slug is its path
  without `.md` (lower-case), and the front matter may carry `status`. Other files, `README.md`
  and hidden files are skipped. Entry count and uncompressed size are capped (zip bombs).

Every article is validated (the API's `ArticleDraft` rules, one slug per article) before
anything is written; problems are reported together, each as `{"row": n}` (JSON: the n-th
article; CSV: the spreadsheet row, the header being row 1) or `{"file": name}`, with the
field and what to fix. Articles without a slug take one made from the title, so importing
the same file twice changes nothing.

Applying matches articles by slug: a new slug creates an article, a known one gets a new
version when its content or status differs. The writes go through app/kb/writes.py in the
caller's transaction, in bulk, each version saved as `import`; the knowledge revision moves
once, at the end, if published content changed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.errors import AppError, Conflict, PayloadTooLarge
from app.kb.articles import slugify
from app.kb.loader import parse_article
from app.kb.schemas import ArticleDraft
from app.kb.writes import (
    PUBLISHED,
    Change,
    Content,
    Progress,
    find_articles,
    get_revision,
    write_articles,
)
from app.spreadsheet_cells import unescape_formula

ImportFormat = Literal["json", "csv", "zip"]

CSV_COLUMNS = ("slug", "title", "body", "questions", "tags", "status")
READ_ONLY_FIELDS = frozenset({"id", "version", "source", "updated_by", "created_at", "updated_at"})
MAX_IMPORT_ARTICLES = 20_000
MAX_ZIP_ENTRIES = 20_000
MAX_ZIP_BYTES = 128 * 1024 * 1024  # total uncompressed size of the articles read
MAX_FILE_BYTES = 1024 * 1024  # one Markdown article
MAX_LISTED_PROBLEMS = 1000

_CONTENT_TYPES: dict[str, ImportFormat] = {
    "application/json": "json",
    "text/json": "json",
    "text/csv": "csv",
    "application/csv": "csv",
    "text/comma-separated-values": "csv",
    "application/vnd.ms-excel": "csv",  # what some browsers send for a .csv file
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/x-zip": "zip",
}
_SLUG = re.compile(r"[a-z0-9][a-z0-9/_-]*")

# A CSV cell may hold a whole article body; the csv module's default cap is 128 KiB.
csv.field_size_limit(max(csv.field_size_limit(), 4 * MAX_FILE_BYTES))


class UnsupportedFormat(AppError):
    """The import's format could not be told from its Content-Type or `?format=`."""

    status_code = 415
    code = "unsupported_media_type"


class ImportInvalid(AppError):
    """The import has problems; nothing was written. `fields` lists each one."""

    status_code = 422
    code = "validation_error"


@dataclass
class _RawItem:
    """One article as read from the file, before validation."""

    where: dict[str, Any]  # {"row": n} or {"file": name}
    values: dict[str, Any] | None
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, message)


def detect_format(content_type: str | None, requested: str | None) -> ImportFormat:
    """The import format: `requested` (`?format=`) wins, else the Content-Type decides."""
    if requested:
        return requested  # type: ignore[return-value]  # validated by the route's Literal
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in _CONTENT_TYPES:
        return _CONTENT_TYPES[media]
    if media.endswith("+json"):
        return "json"
    raise UnsupportedFormat(
        f"cannot tell the import format from Content-Type {media or '(none)'!r}; send "
        "application/json, text/csv or application/zip, or add ?format=json|csv|zip",
        accepted=sorted(set(_CONTENT_TYPES)),
    )


def format_from_path(path: Path) -> ImportFormat | None:
    """The format a file name suggests (`.json`, `.csv`, `.zip`), if any."""
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in ("json", "csv", "zip") else None  # type: ignore[return-value]


def read_import(
    data: bytes, fmt: ImportFormat, *, progress: Progress | None = None
) -> list[ArticleDraft]:
    """Parse and validate a whole import; each draft has its slug. Raises ImportInvalid
    listing every problem, or PayloadTooLarge for an oversized archive."""
    if fmt == "json":
        items, unit = _read_json(data), "row"
    elif fmt == "csv":
        items, unit = _read_csv(data), "row"
    else:
        items, unit = _read_zip(data), "file"
    return _validate(items, unit=unit, progress=progress)


def read_markdown_folder(folder: Path, *, progress: Progress | None = None) -> list[ArticleDraft]:
    """Parse and validate a folder of Markdown articles laid out like `knowledge_base/`."""
    paths = sorted(p for p in folder.rglob("*.md") if p.is_file())
    items = []
    for path in paths:
        name = path.relative_to(folder).as_posix()
        if _skipped(name):
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            items.append(_RawItem({"file": name}, None, [("file", _too_big_file())]))
            continue
        items.append(_markdown_item(name, path.read_bytes()))
    _check_count(len(items))
    return _validate(items, unit="file", progress=progress)


# --- reading each format ----------------------------------------------------------------


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportInvalid(
            f"the {what} is not UTF-8 text (byte {exc.start}); save it as UTF-8 and retry"
        ) from None


def _check_count(count: int) -> None:
    if count > MAX_IMPORT_ARTICLES:
        raise PayloadTooLarge(
            f"the import has {count} articles; the limit is {MAX_IMPORT_ARTICLES} per import, "
            "so split the file"
        )


def _read_json(data: bytes) -> list[_RawItem]:
    try:
        document = json.loads(_text(data, "JSON file"))
    except json.JSONDecodeError as exc:
        raise ImportInvalid(
            f"the file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            'send {"articles": [...]}'
        ) from None
    articles = document.get("articles") if isinstance(document, dict) else document
    if not isinstance(articles, list):
        raise ImportInvalid(
            'send a JSON object {"articles": [...]} whose list holds one object per article'
        )
    _check_count(len(articles))
    items = []
    for row, article in enumerate(articles, start=1):
        where = {"row": row}
        if not isinstance(article, dict):
            problem = ("article", "must be an object with at least title and body")
            items.append(_RawItem(where, None, [problem]))
            continue
        values = {k: v for k, v in article.items() if k not in READ_ONLY_FIELDS}
        items.append(_RawItem(where, values))
    return items


def split_list(text: str, separators: str) -> list[str]:
    """Split a CSV cell on any of `separators`; a backslash escapes a separator or itself."""
    items: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            if following and (following in separators or following == "\\"):
                current.append(following)
            else:
                current.append(char + following)
        elif char in separators:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def join_list(items: Iterable[str], separators: str) -> str:
    """The inverse of `split_list`: join with the first separator, escaping as needed."""
    escaped = []
    for item in items:
        text = item.replace("\\", "\\\\")
        for separator in separators:
            text = text.replace(separator, "\\" + separator)
        escaped.append(text)
    return separators[0].join(escaped)


def _read_csv(data: bytes) -> list[_RawItem]:
    reader = csv.reader(io.StringIO(_text(data, "CSV file"), newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise ImportInvalid(
                "the CSV file is empty; its first row names the columns: " + ", ".join(CSV_COLUMNS)
            )
        columns = [name.strip().lower() for name in header]
        _check_header(columns)
        items: list[_RawItem] = []
        for row, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines and rows of empty cells, as spreadsheets leave them
            _check_count(len(items) + 1)
            items.append(_csv_item(row, columns, cells))
    except csv.Error as exc:
        raise ImportInvalid(
            f"the CSV file is malformed near line {reader.line_num}: {exc}; check its quoting"
        ) from None
    return items


def _check_header(columns: list[str]) -> None:
    problems = []
    for name in sorted({c for c in columns if columns.count(c) > 1}):
        problems.append({"row": 1, "field": name, "message": "column appears more than once"})
    for name in columns:
        if name not in CSV_COLUMNS:
            message = f"unknown column {name!r}; columns are {', '.join(CSV_COLUMNS)}"
            problems.append({"row": 1, "field": name or "(blank)", "message": message})
    for name in ("title", "body"):
        if name not in columns:
            problems.append({"row": 1, "field": name, "message": "required column is missing"})
    if problems:
        raise ImportInvalid(
            "the CSV header (row 1) is invalid: "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
            fields=problems,
        )


def _csv_item(row: int, columns: list[str], cells: list[str]) -> _RawItem:
    where = {"row": row}
    if len(cells) > len(columns):
        message = f"has {len(cells)} cells but the header names {len(columns)} columns"
        return _RawItem(where, None, [("row", message)])
    record = {column: unescape_formula(cell) for column, cell in zip(columns, cells, strict=False)}
    values: dict[str, Any] = {
        "title": record.get("title", ""),
        "body": record.get("body", ""),
        "questions": split_list(record.get("questions", ""), "|"),
        "tags": split_list(record.get("tags", ""), "|,"),
    }
    for optional in ("status", "slug"):
        cell = record.get(optional, "").strip()
        if cell:
            values[optional] = cell
    return _RawItem(where, values)


def _skipped(name: str) -> bool:
    parts = name.split("/")
    return (
        not name.lower().endswith(".md")
        or parts[-1].lower() == "readme.md"
        or parts[0] == "__MACOSX"
        or any(part.startswith(".") for part in parts)
    )


def _too_big_file() -> str:
    return f"larger than {MAX_FILE_BYTES // 1024} KiB; an article's body is at most 100,000 chars"


def _too_big_archive(detail: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the zip {detail}; an import holds at most {MAX_ZIP_ENTRIES} files and "
        f"{MAX_ZIP_BYTES // (1024 * 1024)} MiB uncompressed, so split it",
        max_files=MAX_ZIP_ENTRIES,
        max_uncompressed_bytes=MAX_ZIP_BYTES,
    )


def _read_zip(data: bytes) -> list[_RawItem]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise ImportInvalid(
            "the file is not a zip archive; zip the Markdown files (or send JSON or CSV)"
        ) from None
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if len(entries) > MAX_ZIP_ENTRIES:
            raise _too_big_archive(f"has {len(entries)} files")
        declared = sum(info.file_size for info in entries)
        if declared > MAX_ZIP_BYTES:
            raise _too_big_archive(f"expands to {declared // (1024 * 1024)} MiB")
        items: list[_RawItem] = []
        total = 0
        for info in entries:
            name = info.filename.replace("\\", "/").lstrip("/")
            if _skipped(name):
                continue
            where = {"file": name}
            if info.flag_bits & 0x1:
                items.append(_RawItem(where, None, [("file", "is encrypted; zip it without")]))
                continue
            if info.file_size > MAX_FILE_BYTES:
                items.append(_RawItem(where, None, [("file", _too_big_file())]))
                continue
            try:
                # Sizes in the directory can lie: never read more than the caps allow.
                with archive.open(info) as member:
                    content = member.read(MAX_FILE_BYTES + 1)
            except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError) as exc:
                message = f"cannot be extracted ({exc}); re-create the zip"
                items.append(_RawItem(where, None, [("file", message)]))
                continue
            if len(content) > MAX_FILE_BYTES:
                items.append(_RawItem(where, None, [("file", _too_big_file())]))
                continue
            total += len(content)
            if total > MAX_ZIP_BYTES:
                raise _too_big_archive(f"expands to more than {MAX_ZIP_BYTES // (1024 * 1024)} MiB")
            items.append(_markdown_item(name, content))
    if entries and not items:
        raise ImportInvalid(
            "the zip holds no Markdown articles (*.md files, README.md excepted); "
            f"it has {', '.join(info.filename for info in entries[:5])}"
        )
    _check_count(len(items))
    return items


def _markdown_item(name: str, content: bytes) -> _RawItem:
    where = {"file": name}
    slug = name[: -len(".md")].lower()
    if not _SLUG.fullmatch(slug) or len(slug) > 200:
        message = (
            "the path (without .md) is the article's slug: use lower-case letters, digits, "
            "'-', '_' and '/' only, starting with a letter or digit; rename the file"
        )
        return _RawItem(where, None, [("name", message)])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _RawItem(where, None, [("file", "is not UTF-8 text; save it as UTF-8")])
    article, problems = parse_article(text, slug=slug, where=name)
    if article is None:
        found = []
        for problem in problems:
            what, _, message = problem.removeprefix(f"{name}: ").partition(": ")
            found.append((what, message))
        return _RawItem(where, None, found)
    values = {
        "slug": slug,
        "title": article.title,
        "body": article.body,
        "questions": list(article.questions),
        "tags": list(article.tags),
        "status": article.extra.get("status", PUBLISHED),
    }
    return _RawItem(where, values)


# --- validation -------------------------------------------------------------------------


def _message(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field; articles have title, body, questions, tags, status and slug"
    if kind == "string_pattern_mismatch":
        return "use lower-case letters, digits, '-', '_' and '/', starting with a letter or digit"
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def _where_text(where: dict[str, Any]) -> str:
    return f"row {where['row']}" if "row" in where else f"file {where['file']}"


def _validate(items: list[_RawItem], *, unit: str, progress: Progress | None) -> list[ArticleDraft]:
    problems: list[dict[str, Any]] = []
    drafts: list[ArticleDraft] = []
    first_with: dict[str, dict[str, Any]] = {}
    for done, item in enumerate(items, start=1):
        if progress is not None:
            progress(done, len(items))
        found = list(item.problems)
        draft = None
        if not found:
            try:
                draft = ArticleDraft.model_validate(item.values)
            except ValidationError as exc:
                for error in exc.errors():
                    where = ".".join(str(p) for p in error["loc"]) or "article"
                    found.append((where, _message(error)))
        if draft is not None:
            slug = draft.slug or slugify(draft.title)
            first = first_with.setdefault(slug, item.where)
            if first is not item.where:
                origin = "" if draft.slug else " (made from the title)"
                message = (
                    f"{slug!r}{origin} is also the slug of {_where_text(first)}; "
                    "give each article its own slug"
                )
                found.append(("slug", message))
            else:
                drafts.append(draft.model_copy(update={"slug": slug}))
        problems.extend({**item.where, "field": f, "message": m} for f, m in found)
    if problems:
        bad = len({json.dumps(p.get("row", p.get("file"))) for p in problems})
        noun = unit if len(items) == 1 else f"{unit}s"
        verb = "is" if bad == 1 else "are"
        listed = "; ".join(f"{_where_text(p)}: {p['field']}: {p['message']}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ImportInvalid(
            f"{bad} of {len(items)} {noun} {verb} invalid, so nothing was imported; fix them "
            f"and import again: {listed}{more}",
            invalid=bad,
            total=len(items),
            fields=problems[:MAX_LISTED_PROBLEMS],
            truncated=len(problems) > MAX_LISTED_PROBLEMS,
        )
    return drafts


# --- applying ---------------------------------------------------------------------------


def apply_import(
    conn: Connection,
    *,
    drafts: list[ArticleDraft],
    author_id: int | None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Create or update every draft (by slug) in the caller's transaction; returns the counts
    `created`, `updated`, `unchanged` and the resulting knowledge `revision`. With `dry_run`,
    only counts what would happen."""
    existing = find_articles(conn, slugs=[d.slug for d in drafts if d.slug], lock=not dry_run)
    creates: list[Content] = []
    updates: list[tuple[dict[str, Any], Content]] = []
    for draft in drafts:
        content = Content.of_draft(draft, slug=draft.slug or "")
        current = existing.get(content.slug)
        if current is None:
            creates.append(content)
        elif content.differs_from(current):
            updates.append((current, content))
    counts = {
        "created": len(creates),
        "updated": len(updates),
        "unchanged": len(drafts) - len(creates) - len(updates),
    }
    if not dry_run:
        try:
            write_articles(
                conn,
                change=Change.IMPORT,
                author_id=author_id,
                creates=creates,
                updates=updates,
                progress=progress,
            )
        except IntegrityError as exc:
            raise Conflict(
                "another change created an article with one of these slugs during the import; "
                "nothing was imported, import again"
            ) from exc
    return {**counts, "revision": get_revision(conn)}
