"""Several service processes on one database: a knowledge change made through one reaches the
others' answers, through the revision poll, and at once through Redis pub/sub."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, login

ARTICLE = {
    "title": "Do you rent out canoes?",
    "body": "Yes, canoes can be rented from our riverside shop for 40 USD a day.",
    "questions": ["canoe rental", "can I hire a canoe"],
}


async def seconds_until_answered(client: httpx.AsyncClient, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < 30:
        tried = await client.post(
            "/api/v1/admin/try", json={"text": "can I hire a canoe?"}, headers=headers
        )
        if "riverside" in tried.json()["reply"]["text"]:
            return time.perf_counter() - started
        await asyncio.sleep(0.05)
    raise AssertionError("the other process never answered from the new article")


async def test_other_processes_pick_up_changes_by_polling(start_app: Callable[..., Any]) -> None:
    settings = {**ADMIN, "kb_poll_seconds": 0.5}
    async with start_app(**settings) as one, start_app(**settings) as two:
        admin_one = await login(one, ADMIN_EMAIL, ADMIN_PASSWORD)
        admin_two = await login(two, ADMIN_EMAIL, ADMIN_PASSWORD)
        created = await one.post("/api/v1/admin/kb/articles", json=ARTICLE, headers=admin_one)
        assert created.status_code == 201
        assert await seconds_until_answered(two, admin_two) < 10


async def test_redis_tells_other_processes_at_once(
    start_app: Callable[..., Any], redis_url: str
) -> None:
    settings = {**ADMIN, "kb_poll_seconds": 120, "redis_url": redis_url}
    async with start_app(**settings) as one, start_app(**settings) as two:
        admin_one = await login(one, ADMIN_EMAIL, ADMIN_PASSWORD)
        admin_two = await login(two, ADMIN_EMAIL, ADMIN_PASSWORD)
        created = await one.post("/api/v1/admin/kb/articles", json=ARTICLE, headers=admin_one)
        assert created.status_code == 201
        # Far sooner than the 120 s poll: the notice came through Redis.
        assert await seconds_until_answered(two, admin_two) < 10
