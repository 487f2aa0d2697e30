"""The named limits on public endpoints and the one place they are counted (`limits`' moving
window, in the storage the settings choose: `app.ratelimit.storage`).

A `Limit` is a name (the scope of its counts), one or more rates that all apply, and what it
counts in words, for the message a refused client reads. `take` counts one request and refuses
it (without counting) when any rate is spent; `check` only looks; `count` counts
unconditionally (what already happened, e.g. a handoff). With `rate_limits.enabled` false
nothing is counted or refused. A storage failure (Redis down) is a 503 that says so, never a
500; refusals are 429 with `Retry-After`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from app.config import Settings
from app.errors import ServiceUnavailable, TooManyRequests
from app.ratelimit.storage import limits_storage


@dataclass(frozen=True)
class Limit:
    """A named limit: its rates (all apply) and what it counts, e.g. "new conversations from
    your network address"."""

    name: str
    items: tuple[RateLimitItem, ...]
    counts: str

    @classmethod
    def of(cls, name: str, rate: str, counts: str) -> Limit:
        """The limit of `rate`, a `limits` rate string ("3/hour", "30/minute;300/hour")."""
        return cls(name, _parse(rate), counts)


@lru_cache(maxsize=256)
def _parse(rate: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(rate))


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused and how many seconds until it would be accepted."""

    limit: Limit
    item: RateLimitItem
    wait_seconds: int

    @property
    def message(self) -> str:
        """What happened and when to retry, in words."""
        return (
            f"too many {self.limit.counts} (the limit is {describe(self.item)}); "
            f"try again in {self.wait_seconds} seconds"
        )

    def error(self) -> TooManyRequests:
        """The 429 to answer with."""
        return TooManyRequests(
            self.message,
            headers={"Retry-After": str(self.wait_seconds)},
            retry_after=self.wait_seconds,
            limit=describe(self.item),
            scope=self.limit.name,
        )


def describe(item: RateLimitItem) -> str:
    """A rate in words: "30 per 1 minute", "3 per 1 hour"."""
    unit = item.GRANULARITY.name
    return f"{item.amount} per {item.multiples} {unit}{'s' if item.multiples != 1 else ''}"


STORE_DOWN = (
    "the rate-limit store (Redis at SWITCHBOARD_REDIS_URL) is unreachable; nothing was done, "
    "retry shortly"
)


@contextmanager
def _store_errors() -> Iterator[None]:
    """A failure of the storage (Redis down) as the 503 that says so."""
    try:
        yield
    except StorageError as exc:
        raise ServiceUnavailable(STORE_DOWN, headers={"Retry-After": "5"}) from exc


class RateLimits:
    """The service's limits on its public endpoints, counted in one storage."""

    def __init__(self, settings: Settings, storage: Storage) -> None:
        config = settings.rate_limits
        self.enabled = config.enabled
        self._limiter = MovingWindowRateLimiter(storage)
        self.new_conversation = Limit.of(
            "conversations", config.conversations_per_address, "new conversations from your address"
        )
        self.message_per_address = Limit.of(
            "messages-address", config.messages_per_address, "messages from your address"
        )
        self.message_per_conversation = Limit.of(
            "messages-conversation",
            config.messages_per_conversation,
            "messages in this conversation",
        )
        self.handoff_per_address = Limit.of(
            "handoffs",
            config.handoffs_per_address,
            "requests for a person from your address",
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        """The limits the settings describe, in Redis when `redis_url` is set."""
        return cls(settings, limits_storage(settings, key_prefix="switchboard-limits"))

    async def take(self, limit: Limit, key: str) -> Refusal | None:
        """Count one request against `limit` for `key`, or refuse it (nothing counted)."""
        refusal = await self.check(limit, key)
        if refusal is not None or not self.enabled:
            return refusal
        with _store_errors():
            for item in limit.items:
                if not await self._limiter.hit(item, limit.name, key):
                    return await self._refusal(limit, item, key)  # spent meanwhile elsewhere
        return None

    async def hit(self, limit: Limit, key: str) -> None:
        """Count one request, or raise the 429 that refuses it."""
        refusal = await self.take(limit, key)
        if refusal is not None:
            raise refusal.error()

    async def check(self, limit: Limit, key: str) -> Refusal | None:
        """The refusal a request would get now, counting nothing."""
        if not self.enabled:
            return None
        with _store_errors():
            for item in limit.items:
                if not await self._limiter.test(item, limit.name, key):
                    return await self._refusal(limit, item, key)
        return None

    async def count(self, limit: Limit, key: str) -> None:
        """Count something that already happened (it is never refused)."""
        if not self.enabled:
            return
        with _store_errors():
            for item in limit.items:
                await self._limiter.hit(item, limit.name, key)

    async def _refusal(self, limit: Limit, item: RateLimitItem, key: str) -> Refusal:
        stats = await self._limiter.get_window_stats(item, limit.name, key)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        return Refusal(limit, item, wait)
