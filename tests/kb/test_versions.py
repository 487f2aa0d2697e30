"""Article versions as the versions API shows them: an admin's edits, imports and the knowledge
folder sync write them the same way (app/kb/writes.py), so a history reads alike whichever
way an article changed."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, SHIPPED_KB, login

ARTICLES = "/api/v1/admin/kb/articles"
IMPORT = "/api/v1/admin/kb/import"
LLAMA = {
    "title": "Do you sell llama wool blankets?",
    "body": "Yes: our llama wool blankets come in three sizes and ship within two days.",
    "questions": ["llama blanket"],
    "tags": ["products"],
}
CONTENT = ("title", "body", "questions", "tags", "status")


def content(item: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(item[key] for key in CONTENT)


async def by_slug(client: httpx.AsyncClient, headers: dict[str, str], slug: str) -> dict[str, Any]:
    page = (await client.get(ARTICLES, params={"limit": 200}, headers=headers)).json()
    return next(a for a in page["items"] if a["slug"] == slug)


async def versions(
    client: httpx.AsyncClient, headers: dict[str, str], article_id: int
) -> list[dict[str, Any]]:
    response = await client.get(f"{ARTICLES}/{article_id}/versions", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_api_and_import_changes_make_consecutive_versions_alike(admin_client: Any) -> None:
    client, admin = admin_client
    created = (await client.post(ARTICLES, json=LLAMA, headers=admin)).json()
    admin_id = created["updated_by"]
    changed = {**LLAMA, "slug": created["slug"], "body": "Four sizes now.", "status": "draft"}
    imported = await client.post(IMPORT, json={"articles": [changed]}, headers=admin)
    assert imported.json()["updated"] == 1, imported.text
    reverted = await client.post(f"{ARTICLES}/{created['id']}/versions/1/revert", headers=admin)
    assert reverted.status_code == 200, reverted.text

    history = await versions(client, admin, created["id"])
    assert [(v["version"], v["change"]) for v in history] == [
        (3, "reverted"),
        (2, "import"),
        (1, "created"),
    ]
    assert all(v.keys() == history[0].keys() for v in history)
    assert [v["author"] for v in history] == [{"id": admin_id, "name": "Admin"}] * 3
    assert content(history[2]) == content(created) == content(history[0])
    assert content(history[0]) == content(reverted.json())
    assert content(history[1]) == content({**LLAMA, "body": "Four sizes now.", "status": "draft"})


async def test_an_edit_and_an_import_keep_a_folder_article_s_text_the_same_way(
    admin_client: Any,
) -> None:
    client, admin = admin_client
    edited = await by_slug(client, admin, "accepted-payment-methods")
    imported = await by_slug(client, admin, "gift-wrapping")
    assert await versions(client, admin, edited["id"]) == []
    assert await versions(client, admin, imported["id"]) == []

    change = {key: edited[key] for key in ("title", "questions", "tags")}
    saved = await client.put(
        f"{ARTICLES}/{edited['id']}",
        json={**change, "body": edited["body"] + "\n\nGift cards too."},
        headers=admin,
    )
    assert saved.status_code == 200, saved.text
    row = {key: imported[key] for key in ("slug", "title", "questions", "tags")}
    again = await client.post(
        IMPORT,
        json={"articles": [{**row, "body": imported["body"] + "\n\nFree in December."}]},
        headers=admin,
    )
    assert again.json()["updated"] == 1, again.text

    for shipped, label in ((edited, "updated"), (imported, "import")):
        newest, folder_text = await versions(client, admin, shipped["id"])
        assert (newest["version"], newest["change"]) == (shipped["version"] + 1, label)
        assert newest["author"] is not None and newest["author"]["name"] == "Admin"
        assert folder_text == {
            "version": shipped["version"],
            "title": shipped["title"],
            "body": shipped["body"],
            "questions": shipped["questions"],
            "tags": shipped["tags"],
            "status": "published",
            "change": "imported",
            "author": None,
            "created_at": folder_text["created_at"],
        }


async def test_the_folder_sync_replaces_its_articles_text_without_versions(
    start_app: Callable[..., Any], tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(SHIPPED_KB, kb)
    async with start_app(kb_dir=kb, **ADMIN) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        before = await by_slug(client, admin, "gift-wrapping")

    text = (kb / "gift-wrapping.md").read_text(encoding="utf-8")
    (kb / "gift-wrapping.md").write_text(text + "\nWrapping is free in December.\n", "utf-8")
    async with start_app(kb_dir=kb, **ADMIN) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        after = await by_slug(client, admin, "gift-wrapping")
        assert after["id"] == before["id"] and after["source"] == "file"
        assert after["version"] == before["version"]
        assert after["body"].endswith("Wrapping is free in December.")
        assert await versions(client, admin, after["id"]) == []

        edit = {key: after[key] for key in ("title", "questions", "tags")}
        saved = await client.put(
            f"{ARTICLES}/{after['id']}", json={**edit, "body": "Ask us."}, headers=admin
        )
        assert saved.status_code == 200, saved.text
        history = await versions(client, admin, after["id"])
        assert [v["change"] for v in history] == ["updated", "imported"]
        assert history[1]["body"] == after["body"]
