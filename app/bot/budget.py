"""The per-client budget of customer text: how many characters of messages one client
address may send in a sliding window (`SWITCHBOARD_BUDGETS__CLIENT_CHARS`, the `limits`
library; in process, or in Redis when `redis_url` is set so that every process shares it).

A message costs its length in characters, what the encoder, the reader and the database pay
for it (the encoder reads at most `budgets.message_tokens` tokens of it besides). A message
that would take a client past its budget is refused, before anything is read or stored, with
a 429 whose `Retry-After` says when enough of the budget is back. `budgets.enabled = false`
or `rate_limits.enabled = false` turns the budget off (benchmarks, evaluation runs). The client
is the trusted-proxy-aware address of `app/deps.py: ClientAddress`; the store holds only its
digest.
"""

from __future__ import annotations

import hashlib
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from app.config import Settings
from app.errors import PayloadTooLarge, ServiceUnavailable, TooManyRequests
from app.ratelimit.storage import limits_storage


class TextBudget:
    """Characters of customer messages per client in a sliding window."""

    def __init__(self, rate: str, *, enabled: bool = True, storage: Storage | None = None) -> None:
        self.item: RateLimitItem = parse(rate)
        self.enabled = enabled
        self._limiter = SlidingWindowCounterRateLimiter(storage or MemoryStorage())

    @classmethod
    def from_settings(cls, settings: Settings) -> TextBudget:
        """The budget the settings describe (Redis-backed when `redis_url` is set)."""
        return cls(
            settings.budgets.client_chars,
            enabled=settings.budgets.enabled and settings.rate_limits.enabled,
            storage=limits_storage(settings, key_prefix="switchboard-budget"),
        )

    async def spend(self, client: str, chars: int) -> None:
        """Count `chars` against `client`'s budget, or refuse (429) when they do not fit."""
        if not self.enabled or chars <= 0:
            return
        if chars > self.item.amount:
            raise PayloadTooLarge(
                f"the message is {chars} characters; one client may send at most "
                f"{_describe(self.item)}. Shorten the message.",
                limit=self.item.amount,
            )
        key = hashlib.sha256(client.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        try:
            if await self._limiter.hit(self.item, "client", key, cost=chars):
                return
            stats = await self._limiter.get_window_stats(self.item, "client", key)
        except StorageError as exc:
            raise ServiceUnavailable(
                "the message budget's store (Redis at SWITCHBOARD_REDIS_URL) is unreachable; "
                "retry shortly",
                headers={"Retry-After": "5"},
            ) from exc
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            f"you have sent too much text too quickly (the limit is {_describe(self.item)} "
            f"from one address; this message is {chars}); try again in {wait} seconds, or "
            "send shorter messages",
            headers={"Retry-After": str(wait)},
            retry_after=wait,
        )


def _describe(item: RateLimitItem) -> str:
    seconds = item.get_expiry()
    span = (
        f"{seconds // 60} minutes"
        if seconds % 60 == 0 and seconds > 60
        else ("minute" if seconds == 60 else f"{seconds} s")
    )
    return f"{item.amount} characters per {span}"
