"""The knowledge folder on restart: only changed articles re-embed, removals disappear, articles
deleted through the API stay deleted until their file changes, and a malformed file stops the
start with a message naming it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.kb.loader import KbFormatError
from tests.conftest import (
    ADMIN,
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    SHIPPED_KB,
    ask,
    login,
    open_conversation,
)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(SHIPPED_KB, target)
    return target


async def test_edits_and_removals_apply_on_restart(
    start_app: Callable[..., Any], kb_copy: Path
) -> None:
    async with start_app(kb_dir=kb_copy) as client:
        ready = (await client.get("/readyz")).json()["knowledge"]
        articles, revision = ready["articles"], ready["revision"]

    (kb_copy / "klarna.md").unlink()
    (kb_copy / "gift-wrapping.md").write_text(
        "---\ntitle: Do you offer gift wrapping?\nquestions: [can you wrap my present]\n---\n"
        "Gift wrapping is free this month, with a handwritten note.\n",
        encoding="utf-8",
    )
    async with start_app(kb_dir=kb_copy) as client:
        ready = (await client.get("/readyz")).json()["knowledge"]
        assert ready["articles"] == articles - 1
        assert ready["revision"] == revision + 1
        assert 0 < ready["embedded_at_last_build"] <= 3, "only the edited article re-embeds"
        opened = await open_conversation(client)
        reply = (await ask(client, opened, "can you gift wrap my order?")).json()["reply"]
        assert reply["kind"] == "answer"
        assert "free this month" in reply["text"]
        reply = (await ask(client, opened, "can I pay with Klarna?")).json()["reply"]
        assert all("Klarna" not in s["title"] for s in reply["sources"])


async def _article_slugs(client: Any, headers: dict[str, str]) -> dict[str, int]:
    page = await client.get("/api/v1/admin/kb/articles?limit=200", headers=headers)
    assert page.status_code == 200, page.text
    return {a["slug"]: a["id"] for a in page.json()["items"]}


async def test_articles_deleted_through_the_api_stay_deleted_after_a_restart(
    start_app: Callable[..., Any], kb_copy: Path
) -> None:
    async with start_app(kb_dir=kb_copy, **ADMIN) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        slugs = await _article_slugs(client, admin)
        edited = await client.put(  # an admin's edit of a folder article, then deleted too
            f"/api/v1/admin/kb/articles/{slugs['gift-wrapping']}",
            json={"title": "Gift wrapping", "body": "Wrapped by hand.", "version": 1},
            headers=admin,
        )
        assert edited.status_code == 200, edited.text
        for slug in ("klarna", "gift-wrapping"):
            deleted = await client.delete(
                f"/api/v1/admin/kb/articles/{slugs[slug]}?wait=true", headers=admin
            )
            assert deleted.status_code == 204, deleted.text
        articles = (await client.get("/readyz")).json()["knowledge"]["articles"]

    async with start_app(kb_dir=kb_copy, **ADMIN) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        slugs_now = await _article_slugs(client, admin)
        assert "klarna" not in slugs_now and "gift-wrapping" not in slugs_now
        assert (await client.get("/readyz")).json()["knowledge"]["articles"] == articles
        reply = await ask(client, await open_conversation(client), "can I pay with Klarna?")
        assert all("Klarna" not in s["title"] for s in reply.json()["reply"]["sources"])

    # The folder's author changes the file after the deletion: that new text is synced.
    klarna = kb_copy / "klarna.md"
    klarna.write_text(klarna.read_text(encoding="utf-8") + "\nNow in 3 instalments too.\n")
    async with start_app(kb_dir=kb_copy, **ADMIN) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        slugs_now = await _article_slugs(client, admin)
        assert "klarna" in slugs_now and "gift-wrapping" not in slugs_now
        assert (await client.get("/readyz")).json()["knowledge"]["articles"] == articles + 1

    # A file removed from the folder and put back later counts as new.
    wrapping = (kb_copy / "gift-wrapping.md").read_text(encoding="utf-8")
    (kb_copy / "gift-wrapping.md").unlink()
    async with start_app(kb_dir=kb_copy, **ADMIN):
        pass
    (kb_copy / "gift-wrapping.md").write_text(wrapping, encoding="utf-8")
    async with start_app(kb_dir=kb_copy, **ADMIN) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert "gift-wrapping" in await _article_slugs(client, admin)


async def test_malformed_article_stops_the_start(
    start_app: Callable[..., Any], kb_copy: Path
) -> None:
    (kb_copy / "broken.md").write_text("---\nquestions: [x]\n---\nbody\n", encoding="utf-8")
    with pytest.raises(KbFormatError, match=r"broken\.md: title: required"):
        async with start_app(kb_dir=kb_copy):
            pass


async def test_a_damaged_index_file_is_rebuilt(
    start_app: Callable[..., Any], tmp_path: Path
) -> None:
    async with start_app() as client:
        passages = (await client.get("/readyz")).json()["knowledge"]["passages"]
    (tmp_path / "data" / "index" / "passages.npz").write_bytes(b"not an index")
    async with start_app() as client:
        ready = (await client.get("/readyz")).json()["knowledge"]
        assert ready["embedded_at_last_build"] == ready["passages"] == passages
        opened = await open_conversation(client)
        reply = (await ask(client, opened, "can I pay with Klarna?")).json()["reply"]
        assert reply["kind"] == "answer"
