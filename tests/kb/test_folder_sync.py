"""The knowledge folder on restart: only changed articles re-embed, removals disappear, and a
malformed file stops the start with a message naming it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.kb.loader import KbFormatError
from tests.conftest import SHIPPED_KB, ask, open_conversation


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
