"""Which address a limit counts: the TCP peer, unless the peer is a configured trusted proxy,
whose `X-Forwarded-For` then names the client. Served by uvicorn on a real loopback socket (as
`python -m app serve` serves it, uvicorn's own proxy-header handling off), so the peer is real."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

LIMIT = {"conversations_per_address": "2/minute"}


async def create(base_url: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/api/v1/conversations", headers=headers)
    return response.status_code


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(
    start_server: Callable[..., Any],
) -> None:
    async with start_server(rate_limits=LIMIT) as base_url:
        # Rotating the header does not make a new client: all three come from 127.0.0.1.
        assert await create(base_url, "203.0.113.1") == 201
        assert await create(base_url, "203.0.113.2") == 201
        assert await create(base_url, "203.0.113.3") == 429


async def test_forwarded_for_is_honoured_from_a_trusted_proxy(
    start_server: Callable[..., Any],
) -> None:
    async with start_server(rate_limits=LIMIT, trusted_proxies=["127.0.0.0/8"]) as base_url:
        assert await create(base_url, "203.0.113.1") == 201
        assert await create(base_url, "203.0.113.1") == 201
        assert await create(base_url, "203.0.113.1") == 429
        assert await create(base_url, "203.0.113.2") == 201
        # The nearest untrusted hop is the client; what it claims before it is not believed.
        assert await create(base_url, "198.51.100.7, 203.0.113.2") == 201
        assert await create(base_url, "198.51.100.8, 203.0.113.2") == 429
        # A hop of another trusted proxy is skipped.
        assert await create(base_url, "203.0.113.3, 127.0.0.5") == 201


async def test_the_login_throttle_counts_the_same_address(
    start_server: Callable[..., Any],
) -> None:
    throttle = {"auth": {"login_attempts": "100/minute", "login_attempts_per_ip": "2/minute"}}
    async with start_server(**throttle) as base_url, httpx.AsyncClient(base_url=base_url) as c:
        codes = []
        for n in range(3):
            response = await c.post(
                "/api/v1/auth/login",
                json={"email": f"nobody{n}@example.com", "password": "wrong password"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            )
            codes.append(response.status_code)
        assert codes == [401, 401, 429]
