"""Importing and exporting the knowledge base over HTTP: JSON, CSV and Markdown zips; every
problem reported at once and nothing written; upserts by slug with versions; archives capped
against zip bombs; exports that re-import unchanged; customers answered during an import."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
import zipfile
from typing import Any

import httpx
import pytest

from app.kb.imports import MAX_FILE_BYTES, MAX_ZIP_BYTES, MAX_ZIP_ENTRIES
from tests.conftest import (
    ask,
    first_reply,
    make_staff,
    open_conversation,
)

IMPORT = "/api/v1/admin/kb/import"
EXPORT = "/api/v1/admin/kb/export"
ARTICLES = "/api/v1/admin/kb/articles"
SHIPPED = 66
LLAMA = {
    "title": "Do you sell llama wool blankets?",
    "body": "Yes: our llama wool blankets come in three sizes and ship within two days.",
    "questions": ["llama blanket", "do you have blankets made of llama wool"],
    "tags": ["Products", "wool"],
    "slug": "products/llama-blankets",
}
DRAFT = {
    "title": "Alpaca socks (coming soon)",
    "body": "Alpaca socks arrive next season.\n\n- warm\n- soft",
    "status": "draft",
}


async def post_file(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    content: bytes,
    content_type: str,
    **params: Any,
) -> httpx.Response:
    return await client.post(
        IMPORT, content=content, params=params, headers={**headers, "Content-Type": content_type}
    )


async def import_json(
    client: httpx.AsyncClient, headers: dict[str, str], articles: list[Any], **params: Any
) -> httpx.Response:
    return await client.post(IMPORT, json={"articles": articles}, params=params, headers=headers)


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


async def total_articles(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    page = (await client.get(ARTICLES, params={"limit": 1}, headers=headers)).json()
    return int(page["total"])


async def by_slug(client: httpx.AsyncClient, headers: dict[str, str], slug: str) -> dict[str, Any]:
    page = (await client.get(ARTICLES, params={"limit": 200}, headers=headers)).json()
    return next(a for a in page["items"] if a["slug"] == slug)


async def test_json_import_creates_then_updates_by_slug_and_answers_live(
    admin_client: Any,
) -> None:
    client, admin = admin_client
    created = await import_json(client, admin, [LLAMA, DRAFT], wait="true")
    assert created.status_code == 200, created.text
    result = created.json()
    assert {k: result[k] for k in ("created", "updated", "unchanged")} == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
    }
    assert int(created.headers["X-Knowledge-Revision"]) == result["revision"]
    reply = await first_reply(client, "do you sell blankets made of llama wool?")
    assert reply["kind"] == "answer" and "three sizes" in reply["text"]
    draft = await by_slug(client, admin, "alpaca-socks-coming-soon")  # made from the title
    assert draft["status"] == "draft" and draft["source"] == "api"

    again = (await import_json(client, admin, [LLAMA, DRAFT])).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert again["revision"] == result["revision"], "nothing published changed"

    edited = {**LLAMA, "body": "Yes: llama wool blankets in four sizes, shipped next day."}
    published = {**DRAFT, "status": "published"}
    updated = await import_json(client, admin, [edited, published], wait="true")
    assert updated.status_code == 200, updated.text
    assert (updated.json()["updated"], updated.json()["created"]) == (2, 0)
    assert updated.json()["revision"] == result["revision"] + 1, "one revision per import"
    assert "four sizes" in (await first_reply(client, "llama wool blankets?"))["text"]

    llama = await by_slug(client, admin, "products/llama-blankets")
    assert llama["version"] == 2 and llama["tags"] == ["products", "wool"]
    versions = (await client.get(f"{ARTICLES}/{llama['id']}/versions", headers=admin)).json()
    assert [v["change"] for v in versions] == ["import", "import"]
    assert versions[0]["author"]["id"] == llama["updated_by"] is not None
    assert "three sizes" in versions[1]["body"]


async def test_importing_over_a_shipped_article_keeps_its_file_text_as_history(
    admin_client: Any,
) -> None:
    client, admin = admin_client
    shipped = await by_slug(client, admin, "accepted-payment-methods")
    change = {
        "slug": shipped["slug"],
        "title": shipped["title"],
        "body": shipped["body"] + "\n\nWe now also accept gift cards.",
        "questions": shipped["questions"],
        "tags": shipped["tags"],
    }
    assert (await import_json(client, admin, [change])).json()["updated"] == 1
    after = await by_slug(client, admin, "accepted-payment-methods")
    assert after["source"] == "api" and after["version"] == shipped["version"] + 1
    versions = (await client.get(f"{ARTICLES}/{after['id']}/versions", headers=admin)).json()
    assert [v["change"] for v in versions] == ["import", "imported"]
    assert versions[1]["body"] == shipped["body"]


async def test_every_bad_row_is_reported_and_nothing_is_written(admin_client: Any) -> None:
    client, admin = admin_client
    before = await total_articles(client, admin)
    rows: list[Any] = [
        LLAMA,  # row 1: fine
        {**LLAMA, "slug": None, "title": "  "},  # 2: blank title
        {**LLAMA, "slug": "other", "status": "live"},  # 3: bad status
        {**LLAMA, "title": "Another llama"},  # 4: same slug as row 1
        {**LLAMA, "slug": "q", "questions": ["ok", "x" * 501]},  # 5: oversized question
        {**LLAMA, "slug": "t", "titel": "typo"},  # 6: unknown field
        "not an object",  # 7
        {**LLAMA, "slug": "Has Spaces"},  # 8
        {"title": "Llama blankets", "body": "A"},  # 9: fine
    ]
    response = await import_json(client, admin, rows)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"].startswith("7 of 9 rows are invalid, so nothing was imported")
    assert error["invalid"] == 7 and error["total"] == 9
    problems = {(p["row"], p["field"]) for p in error["fields"]}
    assert problems == {
        (2, "title"),
        (3, "status"),
        (4, "slug"),
        (5, "questions"),
        (6, "titel"),
        (7, "article"),
        (8, "slug"),
    }
    by_row = {p["row"]: p["message"] for p in error["fields"]}
    assert "row 1" in by_row[4]
    assert "500" in by_row[5]
    assert await total_articles(client, admin) == before


async def test_csv_import_with_lists_multiline_bodies_and_spreadsheet_row_numbers(
    admin_client: Any,
) -> None:
    client, admin = admin_client
    rows = [
        ["Title", "Body", "Questions", "Tags", "Status", "Slug"],
        [
            "Llama blankets",
            "Three sizes.\n\nShips in two days.",
            "llama blanket | wool blanket?|cost a\\|b",
            "Products, wool|Winter",
            "",
            "",
        ],
        ["Alpaca socks", "Next season.", "", "", "draft", "socks/alpaca"],
        ["", "", "", "", "", ""],  # a spreadsheet's empty row
    ]
    data = b"\xef\xbb\xbf" + csv_bytes(rows)  # as Excel saves "CSV UTF-8"
    response = await post_file(client, admin, data, "text/csv; charset=utf-8", wait="true")
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    llama = await by_slug(client, admin, "llama-blankets")
    assert llama["body"] == "Three sizes.\n\nShips in two days."
    assert llama["questions"] == ["llama blanket", "wool blanket?", "cost a|b"]
    assert llama["tags"] == ["products", "wool", "winter"]
    assert llama["status"] == "published"
    assert (await by_slug(client, admin, "socks/alpaca"))["status"] == "draft"

    bad = csv_bytes(
        [
            ["title", "body"],
            ["Multi-line", "one\ntwo\nthree"],
            ["", "no title"],  # spreadsheet row 3, though line 5 of the file
            ["x", "y", "extra cell"],
        ]
    )
    response = await post_file(client, admin, bad, "text/csv")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["message"].startswith("2 of 3 rows are invalid")
    assert [(p["row"], p["field"]) for p in error["fields"]] == [(3, "title"), (4, "row")]

    header = csv_bytes([["title", "text", "tags"], ["a", "b", "c"]])
    response = await post_file(client, admin, header, "text/csv")
    assert response.status_code == 422
    fields = {p["field"]: p["message"] for p in response.json()["error"]["fields"]}
    assert "unknown column 'text'" in fields["text"]
    assert fields["body"] == "required column is missing"


async def test_zip_of_markdown_files_imports_like_the_knowledge_folder(
    admin_client: Any,
) -> None:
    client, admin = admin_client
    files: dict[str, str | bytes] = {
        "products/llama-blankets.md": "---\ntitle: Llama blankets\nquestions:\n"
        "  - llama blanket\ntags: [products]\n---\n\nThree sizes, two days.\n",
        "drafts/alpaca.md": "---\ntitle: Alpaca\nstatus: draft\n---\nSoon.\n",
        "README.md": "# not an article",
        "__MACOSX/products/._llama-blankets.md": b"\x00\x01junk",
        "images/logo.png": b"\x89PNG",
    }
    response = await post_file(client, admin, zip_bytes(files), "application/zip")
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    assert (await by_slug(client, admin, "drafts/alpaca"))["status"] == "draft"
    llama = await by_slug(client, admin, "products/llama-blankets")
    assert llama["questions"] == ["llama blanket"] and llama["body"] == "Three sizes, two days."

    broken = {
        "ok.md": "---\ntitle: Fine\n---\nBody.\n",
        "no-title.md": "---\nquestions: [x]\n---\nBody.\n",
        "Bad Name.md": "---\ntitle: Bad name\n---\nBody.\n",
        "latin1.md": "---\ntitle: caf\xe9\n---\nBody.\n".encode("latin-1"),
        "OK.md": "---\ntitle: Same slug as ok.md\n---\nBody.\n",
        "bad-yaml.md": "---\ntitle: [unclosed\n---\nBody.\n",
    }
    response = await post_file(client, admin, zip_bytes(broken), "application/x-zip-compressed")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"].startswith("5 of 6 files are invalid")
    found = {(p["file"], p["field"]) for p in error["fields"]}
    assert found == {
        ("no-title.md", "title"),
        ("Bad Name.md", "name"),
        ("latin1.md", "file"),
        ("OK.md", "slug"),
        ("bad-yaml.md", "front matter"),
    }

    not_zip = await post_file(client, admin, b"plain text", "application/zip")
    assert not_zip.status_code == 422
    assert "not a zip archive" in not_zip.json()["error"]["message"]


async def test_zip_bombs_and_oversized_articles_are_refused(admin_client: Any) -> None:
    client, admin = admin_client
    before = await total_articles(client, admin)
    bomb = zip_bytes({"bomb.md": b"\0" * (MAX_ZIP_BYTES + 1)})
    assert len(bomb) < 1024 * 1024
    response = await post_file(client, admin, bomb, "application/zip")
    assert response.status_code == 413, response.text
    assert "uncompressed" in response.json()["error"]["message"]

    many = zip_bytes({f"a{i}.md": "" for i in range(MAX_ZIP_ENTRIES + 1)})
    response = await post_file(client, admin, many, "application/zip")
    assert response.status_code == 413, response.text
    assert f"{MAX_ZIP_ENTRIES + 1} files" in response.json()["error"]["message"]

    big = "---\ntitle: Big\n---\n" + "word " * (MAX_FILE_BYTES // 5 + 10)
    response = await post_file(client, admin, zip_bytes({"big.md": big}), "application/zip")
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["file"] == "big.md"
    assert await total_articles(client, admin) == before


async def test_format_comes_from_the_content_type_or_the_query(admin_client: Any) -> None:
    client, admin = admin_client
    data = csv_bytes([["title", "body"], ["Llama blankets", "Three sizes."]])
    unknown = await post_file(client, admin, data, "text/plain")
    assert unknown.status_code == 415
    assert "?format=json|csv|zip" in unknown.json()["error"]["message"]
    told = await post_file(client, admin, data, "application/octet-stream", format="csv")
    assert told.status_code == 200 and told.json()["created"] == 1

    broken = await post_file(client, admin, b'{"articles": [', "application/json")
    assert broken.status_code == 422
    assert "not valid JSON (line 1" in broken.json()["error"]["message"]
    wrong = await client.post(IMPORT, json={"article": []}, headers=admin)
    assert wrong.status_code == 422 and '{"articles"' in wrong.json()["error"]["message"]
    mode = await import_json(client, admin, [LLAMA], mode="replace")
    assert mode.status_code == 422


async def test_dry_run_counts_without_writing(admin_client: Any) -> None:
    client, admin = admin_client
    before = await total_articles(client, admin)
    shipped = await by_slug(client, admin, "accepted-payment-methods")
    same = {k: shipped[k] for k in ("slug", "title", "body", "questions", "tags")}
    response = await import_json(client, admin, [LLAMA, same], dry_run="true")
    assert response.status_code == 200, response.text
    assert response.json() | {"revision": 0} == {
        "created": 1,
        "updated": 0,
        "unchanged": 1,
        "revision": 0,
        "dry_run": True,
    }
    assert await total_articles(client, admin) == before


@pytest.mark.parametrize(
    "fmt,media,suffix",
    [
        ("json", "application/json", ".json"),
        ("csv", "text/csv", ".csv"),
        ("zip", "application/zip", ".zip"),
    ],
)
async def test_an_export_re_imports_unchanged(
    admin_client: Any, fmt: str, media: str, suffix: str
) -> None:
    client, admin = admin_client
    tricky = {
        **LLAMA,
        "body": 'Line one, "quoted"\n\n| a | table |\n|---|---|\n\nEnds here \\ with a backslash',
        "questions": ["yes", "a | pipe", "C:\\path", "1.5", "null"],
        "tags": ["a,b", "x|y", "ümlaut"],
    }
    archived = {"title": "Old returns policy", "body": "Gone.", "status": "archived"}
    assert (await import_json(client, admin, [tricky, DRAFT, archived])).status_code == 200
    total = SHIPPED + 3

    exported = await client.get(EXPORT, params={"format": fmt}, headers=admin)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith(media)
    disposition = exported.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="switchboard-kb-')
    assert disposition.endswith(f'{suffix}"')
    assert exported.headers["X-Article-Count"] == str(total)

    response = await post_file(client, admin, exported.content, media)
    assert response.status_code == 200, response.text
    assert response.json() | {"revision": 0} == {
        "created": 0,
        "updated": 0,
        "unchanged": total,
        "revision": 0,
        "dry_run": False,
    }
    saved = await by_slug(client, admin, LLAMA["slug"])
    assert saved["version"] == 1
    assert saved["questions"] == tricky["questions"] and saved["tags"] == tricky["tags"]

    drafts = await client.get(EXPORT, params={"format": fmt, "status": "draft"}, headers=admin)
    assert drafts.headers["X-Article-Count"] == "1"


async def test_json_export_lists_every_article_with_its_metadata(admin_client: Any) -> None:
    client, admin = admin_client
    await import_json(client, admin, [DRAFT])
    document = (await client.get(EXPORT, headers=admin)).json()
    assert document["count"] == len(document["articles"]) == SHIPPED + 1
    alpaca = next(a for a in document["articles"] if a["slug"] == "alpaca-socks-coming-soon")
    assert alpaca["status"] == "draft" and alpaca["version"] == 1 and alpaca["source"] == "api"
    assert {"id", "created_at", "updated_at", "updated_by"} <= set(alpaca)
    assert document["revision"] >= 1


async def test_only_admins_import_and_export(admin_client: Any) -> None:
    client, admin = admin_client
    _, agent = await make_staff(client, admin, email="a@example.com", name="A", role="agent")
    assert (await import_json(client, agent, [LLAMA])).status_code == 403
    assert (await client.get(EXPORT, headers=agent)).status_code == 403
    assert (await client.post(IMPORT, json={"articles": [LLAMA]})).status_code == 401
    assert (await client.get(EXPORT)).status_code == 401


async def test_two_thousand_articles_import_in_bulk(admin_client: Any) -> None:
    client, admin = admin_client
    rows = [["slug", "title", "body", "questions", "tags", "status"]]
    rows += [
        [f"bulk/{i}", f"Bulk article {i}", f"Answer number {i}.", f"q{i}|r{i}", "bulk", "draft"]
        for i in range(2000)
    ]
    data = csv_bytes(rows)
    began = time.perf_counter()
    response = await post_file(client, admin, data, "text/csv")
    first = time.perf_counter() - began
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2000
    assert first < 20, f"2,000 drafts took {first:.1f}s"

    rows[1][2] = "A changed answer."
    response = await post_file(client, admin, csv_bytes(rows), "text/csv")
    assert (response.json()["updated"], response.json()["unchanged"]) == (1, 1999)
    page = await client.get(ARTICLES, params={"tag": "bulk", "limit": 1}, headers=admin)
    assert page.json()["total"] == 2000


async def test_customers_are_answered_while_an_import_lands(admin_client: Any) -> None:
    client, admin = admin_client
    articles = [
        {
            "slug": f"colours/{i}",
            "title": f"Is the blanket available in colour number {i}?",
            "body": f"Colour {i} is in stock in every size.",
        }
        for i in range(150)
    ]
    articles.append(LLAMA)

    async def customer(i: int) -> int:
        await asyncio.sleep(i * 0.02)
        response = await ask(client, await open_conversation(client), f"where is my order? {i}")
        return response.status_code

    imported, *codes = await asyncio.gather(
        import_json(client, admin, articles, wait="true"), *(customer(i) for i in range(40))
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == 151
    assert codes == [201] * 40
    reply = await first_reply(client, "do you sell blankets made of llama wool?")
    assert "three sizes" in reply["text"]


async def test_json_body_can_be_a_plain_list(admin_client: Any) -> None:
    client, admin = admin_client
    response = await client.post(IMPORT, content=json.dumps([LLAMA]), headers=admin)
    assert response.status_code == 415, "no Content-Type and no ?format"
    response = await client.post(
        IMPORT, content=json.dumps([LLAMA]), params={"format": "json"}, headers=admin
    )
    assert response.status_code == 200 and response.json()["created"] == 1
