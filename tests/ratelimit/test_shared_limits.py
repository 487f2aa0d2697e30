"""Limits counted in Redis: two app instances on one Redis share the counts, and a Redis outage
is a 503 that names the store (nothing is created), not a 500."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import free_port


def forget_counts(url: str) -> None:
    """Drop the counts earlier runs left under the limits' prefix."""
    client = redis.Redis.from_url(url)
    for key in client.scan_iter("switchboard-limits*"):
        client.delete(key)
    client.close()


async def test_two_instances_share_the_counts(
    start_app: Callable[..., Any], redis_url: str
) -> None:
    forget_counts(redis_url)
    settings = {"redis_url": redis_url, "rate_limits": {"conversations_per_address": "3/minute"}}
    async with start_app(**settings) as first, start_app(**settings) as second:
        assert (await first.post("/api/v1/conversations")).status_code == 201
        assert (await second.post("/api/v1/conversations")).status_code == 201
        assert (await first.post("/api/v1/conversations")).status_code == 201
        refused = await second.post("/api/v1/conversations")
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        assert (await first.post("/api/v1/conversations")).status_code == 429


async def test_a_redis_outage_is_a_503_that_says_so(
    start_app: Callable[..., Any], tmp_path: Path
) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary to start and stop")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        async with start_app(redis_url=url) as client:
            assert (await client.post("/api/v1/conversations")).status_code == 201
            process.terminate()
            process.wait(10)
            response = await client.post("/api/v1/conversations")
            assert response.status_code == 503, response.text
            assert "Redis" in response.json()["error"]["message"]
            assert response.headers["Retry-After"]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
