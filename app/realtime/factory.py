"""The broker a service uses, chosen by its settings."""

from __future__ import annotations

from app.config import Settings
from app.realtime.broker import Broker, MemoryBroker
from app.realtime.redis_broker import RedisBroker


def create_broker(settings: Settings) -> Broker:
    """A Redis broker when `settings.redis_url` is set, else the in-memory one."""
    if settings.redis_url:
        return RedisBroker(settings.redis_url)
    return MemoryBroker()
