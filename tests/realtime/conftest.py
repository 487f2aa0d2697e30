"""Fixtures of the live-event tests: a real Redis server, and brokers of both kinds."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from servicekit import free_port  # on sys.path: tests/conftest.py adds scripts/

from app.realtime.broker import Broker, MemoryBroker
from app.realtime.redis_broker import RedisBroker

REDIS_URL = os.environ.get("SWITCHBOARD_TEST_REDIS_URL")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`SWITCHBOARD_TEST_REDIS_URL`, else a redis-server started on a free loopback port
    (skipped when neither is available)."""
    if REDIS_URL:
        yield REDIS_URL
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "no Redis: install redis-server (apt-get install redis-server) or set "
            "SWITCHBOARD_TEST_REDIS_URL to test the Redis broker"
        )
    port = free_port()
    folder: Path = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"redis-server did not start on port {port}") from None
            time.sleep(0.05)
    client.close()
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    """A broker of each kind (Redis against a real server)."""
    made: Broker
    if request.param == "memory":
        made = MemoryBroker()
    else:
        made = RedisBroker(request.getfixturevalue("redis_url"))
    yield made
    await made.close()
