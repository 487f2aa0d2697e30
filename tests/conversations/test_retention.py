"""Expiry of what customers leave behind: conversations that never got a message are swept
(ones with messages stay), and a customer token stops working after a spell without activity,
with a 403 that tells the widget to start a new conversation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import Opened, ask, open_conversation


async def messages_status(client: httpx.AsyncClient, opened: Opened) -> httpx.Response:
    return await client.get(f"/api/v1/conversations/{opened[0]}/messages", headers=opened[1])


async def wait_for_status(
    client: httpx.AsyncClient, opened: Opened, status: int, *, seconds: float = 60
) -> httpx.Response:
    async with asyncio.timeout(seconds):
        while True:
            response = await messages_status(client, opened)
            if response.status_code == status:
                return response
            await asyncio.sleep(0.1)


async def test_empty_conversations_are_swept_and_others_stay(
    start_app: Callable[..., Any],
) -> None:
    # Empty ones expire 3.6 s after opening; every process sweeps every 0.3 s.
    retention = {"empty_conversation_hours": 0.001, "sweep_minutes": 0.005}
    async with start_app(retention=retention) as client:
        kept = await open_conversation(client)
        assert (await ask(client, kept, "what are your shipping options")).status_code == 201
        empty = await open_conversation(client)
        assert (await messages_status(client, empty)).status_code == 200
        gone = await wait_for_status(client, empty, 404)
        assert "does not exist" in gone.json()["error"]["message"]
        # Swept more than once since: the conversation with messages is still whole.
        later = await open_conversation(client)
        await wait_for_status(client, later, 404)
        page = await messages_status(client, kept)
        assert page.status_code == 200
        assert [m["author"] for m in page.json()["messages"]] == ["customer", "bot"]


async def test_a_token_unused_for_too_long_is_refused(start_app: Callable[..., Any]) -> None:
    # Tokens expire after 2.6 s without activity here (the default is 30 days).
    async with start_app(retention={"customer_token_days": 0.00003}) as client:
        opened = await open_conversation(client)
        assert (await ask(client, opened, "hello")).status_code == 201
        expired = await wait_for_status(client, opened, 403)
        error = expired.json()["error"]
        assert error["code"] == "token_expired" and error["start_new"] is True
        assert "start a new conversation" in error["message"]
        posted = await ask(client, opened, "hello again")
        assert posted.status_code == 403 and posted.json()["error"]["code"] == "token_expired"
        # A new conversation works at once.
        fresh = await open_conversation(client)
        assert (await ask(client, fresh, "hello")).status_code == 201
