"""Staff streams close as soon as their token is revoked (logout, deactivation), well before
the stream's own heartbeat would notice (every 20 s with the default presence timeout): in one
process through the in-memory broker, and across processes through Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer, login, make_staff
from tests.realtime.live import agent_stream, next_event, quiet

CLOSED_WITHIN = 1.0  # seconds after the revoking request answered


async def events_until_closed(ws: ClientConnection) -> tuple[list[Any], int, str, float]:
    """What arrived before the server closed the stream, its close code and reason, and the
    seconds it took (fails if it stays open `CLOSED_WITHIN` seconds)."""
    started = time.perf_counter()
    events = []
    try:
        async with asyncio.timeout(CLOSED_WITHIN):
            while True:
                events.append(await ws.recv())
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "closed without a close frame"
        return events, closed.rcvd.code, closed.rcvd.reason, time.perf_counter() - started
    except TimeoutError:
        raise AssertionError(f"the stream was still open {CLOSED_WITHIN}s later") from None


async def _revocations_close_streams(
    revoking: httpx.AsyncClient, streams_on: LiveServer, admin: dict[str, str]
) -> None:
    ada, first = await make_staff(
        revoking, admin, email="ada@example.com", name="Ada", role="agent"
    )
    second = await login(revoking, "ada@example.com", "correct horse 1")
    async with agent_stream(streams_on, first) as one, agent_stream(streams_on, second) as two:
        for ws in (one, two):
            assert (await next_event(ws))["type"] == "hello"
            await quiet(ws)

        response = await revoking.post("/api/v1/auth/logout", headers=first)
        assert response.status_code == 204
        events, code, reason, _ = await events_until_closed(one)
        assert events == [], "nothing is delivered after the logout"
        assert code == 4401 and "revoked" in reason and "signed out" in reason
        # Her other token (another console) is not affected.
        await two.send('{"type": "ping"}')
        assert await next_event(two) == {"type": "pong"}

        response = await revoking.post(f"/api/v1/admin/users/{ada['id']}/deactivate", headers=admin)
        assert response.status_code == 200, response.text
        events, code, reason, _ = await events_until_closed(two)
        assert events == []
        assert code == 4401 and "deactivated" in reason


async def test_logout_and_deactivation_close_streams_at_once(
    start_server: Callable[..., Any],
) -> None:
    async with start_server(**ADMIN) as server, httpx.AsyncClient(base_url=server) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        await _revocations_close_streams(client, server, admin)


async def test_a_revocation_in_one_process_closes_streams_in_another(
    start_server: Callable[..., Any], redis_url: str
) -> None:
    settings = {**ADMIN, "redis_url": redis_url}
    async with (
        start_server(**settings) as one,
        start_server(**settings) as two,
        httpx.AsyncClient(base_url=one) as client,
    ):
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        await _revocations_close_streams(client, two, admin)
