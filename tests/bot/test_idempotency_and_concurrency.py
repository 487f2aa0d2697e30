"""Retries are stored once; concurrent posts keep `seq` gapless; data survives a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import ask, open_conversation


async def _messages(client: httpx.AsyncClient, conversation_id: str, headers: dict) -> list[dict]:
    url = f"/api/v1/conversations/{conversation_id}/messages"
    return (await client.get(url, params={"limit": 500}, headers=headers)).json()["messages"]


async def test_retried_client_id_is_stored_once_and_returns_the_same_result(
    client: httpx.AsyncClient,
) -> None:
    opened = await open_conversation(client)
    first = await ask(client, opened, "do you ship to canada?", client_id="c-1")
    again = await ask(client, opened, "do you ship to canada?", client_id="c-1")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    stored = await _messages(client, *opened)
    assert [(m["seq"], m["author"]) for m in stored] == [(1, "customer"), (2, "bot")]
    assert stored[0]["client_id"] == "c-1"


async def test_client_id_reused_for_other_text_is_409(client: httpx.AsyncClient) -> None:
    opened = await open_conversation(client)
    assert (await ask(client, opened, "hello there", client_id="c-9")).status_code == 201
    response = await ask(client, opened, "something else", client_id="c-9")
    assert response.status_code == 409
    assert "new client_id" in response.json()["error"]["message"]
    assert len(await _messages(client, *opened)) == 2


async def test_client_ids_are_scoped_to_their_conversation(client: httpx.AsyncClient) -> None:
    one = await open_conversation(client)
    two = await open_conversation(client)
    assert (await ask(client, one, "hi", client_id="same")).status_code == 201
    assert (await ask(client, two, "hi", client_id="same")).status_code == 201


async def test_concurrent_retries_of_one_client_id_store_one_message(
    client: httpx.AsyncClient,
) -> None:
    opened = await open_conversation(client)
    responses = await asyncio.gather(
        *[ask(client, opened, "where is my parcel", client_id="burst") for _ in range(8)]
    )
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert all(r.json() == responses[0].json() for r in responses)
    assert [m["seq"] for m in await _messages(client, *opened)] == [1, 2]


async def test_concurrent_posts_keep_seq_gapless(client: httpx.AsyncClient) -> None:
    opened = await open_conversation(client)
    questions = [f"question number {i} about returns" for i in range(20)]
    responses = await asyncio.gather(*[ask(client, opened, q) for q in questions])
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    stored = await _messages(client, *opened)
    assert [m["seq"] for m in stored] == list(range(1, 41))
    customer_texts = [m["text"] for m in stored if m["author"] == "customer"]
    assert sorted(customer_texts) == sorted(questions)
    # every customer message is immediately followed by the bot's reply to it
    for customer, bot in zip(stored[::2], stored[1::2], strict=True):
        assert (customer["author"], bot["author"]) == ("customer", "bot")
    for response in responses:
        body = response.json()
        assert body["reply"]["seq"] == body["message"]["seq"] + 1


async def test_conversations_and_index_survive_a_restart(start_app: Callable[..., Any]) -> None:
    async with start_app() as client:
        opened = await open_conversation(client)
        first = await ask(client, opened, "how do I reset my password", client_id="r-1")
        assert first.status_code == 201
    async with start_app() as client:
        ready = (await client.get("/readyz")).json()
        assert ready["knowledge"]["embedded_at_last_build"] == 0, "unchanged KB re-embedded"
        assert ready["knowledge"]["articles"] >= 40
        stored = await _messages(client, *opened)
        assert stored[0]["text"] == "how do I reset my password"
        replay = await ask(client, opened, "how do I reset my password", client_id="r-1")
        assert replay.status_code == 200
        assert replay.json() == first.json()
        nxt = await ask(client, opened, "and what about two-step verification?")
        assert nxt.json()["message"]["seq"] == 3
