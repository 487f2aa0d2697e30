"""Where `limits` keeps its counts: Redis when `redis_url` is set, so that every process of the
service shares them, else this process's memory. A Redis failure surfaces as
`limits.errors.StorageError` (the storage wraps the driver's errors)."""

from __future__ import annotations

from limits.aio.storage import MemoryStorage, RedisStorage, Storage

from app.config import Settings


def limits_storage(settings: Settings, *, key_prefix: str) -> Storage:
    """The storage the settings ask for, with its keys under `key_prefix` in Redis."""
    if settings.redis_url:
        return RedisStorage(
            f"async+{settings.redis_url}",
            implementation="redispy",
            key_prefix=key_prefix,
            wrap_exceptions=True,
        )
    return MemoryStorage()
