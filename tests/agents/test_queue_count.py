"""The queue's count is exact at any size: beyond the 500 entries the list shows, agents see
how many wait in all, and each customer is told their true place."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from app.agents.queue import QUEUE_LIMIT
from tests.agents.conftest import HUMAN_PLEASE
from tests.conftest import ask, open_conversation

WAITING = QUEUE_LIMIT + 7


async def test_the_count_and_places_are_true_beyond_the_listed_page(
    start_desk: Callable[..., Any],
) -> None:
    # Hundreds of handoffs from one test client: the limits on abuse are tested on their own.
    async with start_desk(rate_limits={"enabled": False}) as desk:
        await desk.online(desk.alice)
        gate = asyncio.Semaphore(8)

        async def hand_off() -> None:
            async with gate:
                opened = await open_conversation(desk.client)
                response = await ask(desk.client, opened, HUMAN_PLEASE)
                assert response.json()["reply"]["kind"] == "handoff", response.text

        await asyncio.gather(*(hand_off() for _ in range(WAITING - 1)))
        last = await ask(desk.client, await open_conversation(desk.client), HUMAN_PLEASE)
        assert last.json()["reply"]["queue"]["position"] == WAITING
        assert f"number {WAITING} in the queue" in last.json()["reply"]["text"]

        page = (await desk.client.get("/api/v1/agent/queue", headers=desk.alice)).json()
        assert len(page["items"]) == QUEUE_LIMIT
        assert page["total"] == WAITING
