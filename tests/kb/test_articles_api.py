"""The admins' article API: create, edit, version, revert, delete, search; changes reach
customers' answers live, without a restart; validation and roles."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import (
    ask,
    first_reply,
    make_staff,
    open_conversation,
)

ARTICLES = "/api/v1/admin/kb/articles"
LLAMA = {
    "title": "Do you sell llama wool blankets?",
    "body": "Yes: our llama wool blankets come in three sizes and ship within two days.",
    "questions": ["llama blanket", "do you have blankets made of llama wool"],
    "tags": ["Products", "wool"],
}


async def test_created_and_edited_articles_answer_live(admin_client: Any) -> None:
    client, admin = admin_client
    before = await first_reply(client, "do you sell blankets made of llama wool?")
    assert before["kind"] != "answer" or "llama" not in before["text"].lower()

    created = await client.post(ARTICLES, params={"wait": "true"}, json=LLAMA, headers=admin)
    assert created.status_code == 201, created.text
    article = created.json()
    assert article["slug"] == "do-you-sell-llama-wool-blankets"
    assert article["version"] == 1 and article["tags"] == ["products", "wool"]
    assert int(created.headers["X-Knowledge-Revision"]) >= 2
    reply = await first_reply(client, "do you sell blankets made of llama wool?")
    assert reply["kind"] == "answer" and "three sizes" in reply["text"]
    assert reply["sources"][0]["article_id"] == article["id"]

    edited = await client.put(
        f"{ARTICLES}/{article['id']}",
        params={"wait": "true"},
        json={
            **LLAMA,
            "body": "Yes: llama wool blankets in four sizes, shipped next day.",
            "version": 1,
        },
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    reply = await first_reply(client, "do you sell blankets made of llama wool?")
    assert "four sizes" in reply["text"]

    stale = await client.put(
        f"{ARTICLES}/{article['id']}", json={**LLAMA, "version": 1}, headers=admin
    )
    assert stale.status_code == 409 and "version 2" in stale.json()["error"]["message"]

    versions = (await client.get(f"{ARTICLES}/{article['id']}/versions", headers=admin)).json()
    assert [(v["version"], v["change"]) for v in versions] == [(2, "updated"), (1, "created")]
    assert versions[0]["author"]["name"] == "Admin"
    reverted = await client.post(
        f"{ARTICLES}/{article['id']}/versions/1/revert", params={"wait": "true"}, headers=admin
    )
    assert reverted.status_code == 200 and reverted.json()["version"] == 3
    assert "three sizes" in (await first_reply(client, "llama wool blankets?"))["text"]

    gone = await client.delete(
        f"{ARTICLES}/{article['id']}", params={"wait": "true"}, headers=admin
    )
    assert gone.status_code == 204
    assert (await client.get(f"{ARTICLES}/{article['id']}", headers=admin)).status_code == 404
    again = await client.delete(f"{ARTICLES}/{article['id']}", headers=admin)
    assert again.status_code == 404
    after = await first_reply(client, "do you sell blankets made of llama wool?")
    assert "sizes" not in after["text"]


async def test_only_published_articles_answer(admin_client: Any) -> None:
    client, admin = admin_client
    draft = await client.post(
        ARTICLES, params={"wait": "true"}, json={**LLAMA, "status": "draft"}, headers=admin
    )
    assert draft.status_code == 201
    assert "three sizes" not in (await first_reply(client, "llama wool blankets?"))["text"]
    published = await client.put(
        f"{ARTICLES}/{draft.json()['id']}",
        params={"wait": "true"},
        json={**LLAMA, "status": "published"},
        headers=admin,
    )
    assert published.status_code == 200
    assert "three sizes" in (await first_reply(client, "llama wool blankets?"))["text"]
    archived = await client.put(
        f"{ARTICLES}/{draft.json()['id']}",
        params={"wait": "true"},
        json={**LLAMA, "status": "archived"},
        headers=admin,
    )
    assert archived.status_code == 200
    assert "three sizes" not in (await first_reply(client, "llama wool blankets?"))["text"]


async def test_editing_a_shipped_article_keeps_its_file_text_as_history(admin_client: Any) -> None:
    client, admin = admin_client
    page = (await client.get(ARTICLES, params={"q": "payment methods"}, headers=admin)).json()
    article = next(a for a in page["items"] if a["slug"] == "accepted-payment-methods")
    assert article["source"] == "file"
    edit = {
        "title": article["title"],
        "body": article["body"] + "\n\nWe now also accept gift cards.",
        "questions": article["questions"],
        "tags": article["tags"],
    }
    saved = await client.put(f"{ARTICLES}/{article['id']}", json=edit, headers=admin)
    assert saved.status_code == 200 and saved.json()["source"] == "api"
    versions = (await client.get(f"{ARTICLES}/{article['id']}/versions", headers=admin)).json()
    assert [v["change"] for v in versions] == ["updated", "imported"]
    assert versions[1]["body"] == article["body"]


async def test_list_search_filters_and_paging(admin_client: Any) -> None:
    client, admin = admin_client
    await client.post(ARTICLES, json={**LLAMA, "status": "draft"}, headers=admin)
    everything = (await client.get(ARTICLES, params={"limit": 200}, headers=admin)).json()
    assert everything["total"] == 67
    drafts = (await client.get(ARTICLES, params={"status": "draft"}, headers=admin)).json()
    assert [a["title"] for a in drafts["items"]] == [LLAMA["title"]]
    wool = (await client.get(ARTICLES, params={"tag": "wool"}, headers=admin)).json()
    assert wool["total"] == 1
    found = (await client.get(ARTICLES, params={"q": "LLAMA"}, headers=admin)).json()
    assert found["total"] == 1
    page = (await client.get(ARTICLES, params={"limit": 10, "offset": 60}, headers=admin)).json()
    assert len(page["items"]) == 7 and page["total"] == 67


@pytest.mark.parametrize(
    "change,field",
    [
        ({"title": "  "}, "title"),
        ({"body": ""}, "body"),
        ({"title": "x" * 301}, "title"),
        ({"questions": ["ok", " "]}, "questions"),
        ({"status": "live"}, "status"),
        ({"colour": "red"}, "colour"),
        ({"slug": "Has Spaces"}, "slug"),
        ({"title": "nul\x00here"}, "title"),
        ({"tags": ["ok", "bad\x00"]}, "tags"),
    ],
)
async def test_bad_articles_get_a_422_naming_the_field(
    admin_client: Any, change: dict[str, Any], field: str
) -> None:
    client, admin = admin_client
    response = await client.post(ARTICLES, json={**LLAMA, **change}, headers=admin)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["message"]


async def test_agents_cannot_edit_the_knowledge_base(admin_client: Any) -> None:
    client, admin = admin_client
    _, agent = await make_staff(client, admin, email="a@example.com", name="A", role="agent")
    assert (await client.post(ARTICLES, json=LLAMA, headers=agent)).status_code == 403
    assert (await client.get(ARTICLES, headers=agent)).status_code == 403
    assert (await client.post(ARTICLES, json=LLAMA)).status_code == 401


async def test_customers_are_answered_while_articles_change(admin_client: Any) -> None:
    client, admin = admin_client

    async def customer(i: int) -> int:
        response = await ask(client, await open_conversation(client), f"where is my order? ({i})")
        return response.status_code

    async def edits() -> list[int]:
        codes = []
        for i in range(15):
            response = await client.post(
                ARTICLES, json={**LLAMA, "title": f"Llama blanket care, part {i}"}, headers=admin
            )
            codes.append(response.status_code)
        return codes

    results = await asyncio.gather(edits(), *(customer(i) for i in range(40)))
    assert results[0] == [201] * 15
    assert results[1:] == [201] * 40


async def test_try_shows_what_the_bot_would_do_and_why(admin_client: Any) -> None:
    client, admin = admin_client
    response = await client.post(
        "/api/v1/admin/try", json={"text": "can I pay with PayPal?"}, headers=admin
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["reply"]["kind"] == "answer"
    assert result["articles"][0]["title"] == "What payment methods do you accept?"
    assert result["decision"]["reason"] and "kb_top_score" in result["signals"]
    assert (
        await client.post("/api/v1/admin/try", json={"text": " "}, headers=admin)
    ).status_code == 422


async def test_customers_are_answered_during_a_large_import(admin_client: Any) -> None:
    client, admin = admin_client
    articles = [
        {
            "title": f"Is the trail stove model TS-{n} safe indoors?",
            "body": f"No: the TS-{n} trail stove burns gas and must only be used outdoors.",
            "questions": [f"TS-{n} indoors"],
            "slug": f"stoves/ts-{n}",
        }
        for n in range(300)
    ]
    before = await client.get("/readyz")

    async def customer(i: int) -> tuple[int, str]:
        response = await ask(client, await open_conversation(client), "what is your return policy")
        reply = response.json().get("reply") or {}
        return response.status_code, reply.get("kind", "")

    async def importing() -> httpx.Response:
        return await client.post(
            "/api/v1/admin/kb/import",
            params={"wait": "true"},
            json={"articles": articles},
            headers=admin,
            timeout=300,
        )

    imported, *turns = await asyncio.gather(importing(), *(customer(i) for i in range(30)))
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == 300
    # Every customer was answered, from a complete index (old or new), never an error.
    assert [code for code, _ in turns] == [201] * 30
    assert {kind for _, kind in turns} == {"answer"}
    after = (await client.get("/readyz")).json()["knowledge"]
    assert after["articles"] == before.json()["knowledge"]["articles"] + 300
    reply = await first_reply(client, "can I use the TS-117 trail stove indoors?")
    assert "TS-117" in reply["text"]
