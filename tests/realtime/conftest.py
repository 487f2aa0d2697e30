"""Fixtures of the live-event tests: a real Redis server, and brokers of both kinds."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.realtime.broker import Broker, MemoryBroker
from app.realtime.redis_broker import RedisBroker


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
