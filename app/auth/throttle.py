"""Login throttling: failed sign-ins are counted per email address and per client address in a
moving window (the `limits` library), in process or in Redis when `redis_url` is set so that
every process shares the counts.

Only failures count, and a success clears its email's count. An attempt is refused (429 with
`Retry-After`) while the failures already stored plus the attempts still being checked in this
process would reach a limit, so a burst of parallel guesses gets no more tries than a patient
attacker. Unknown emails are counted like known ones: a 429 tells nothing about which accounts
exist. Emails are kept only as digests in the store.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from app.config import Settings
from app.errors import ServiceUnavailable, TooManyRequests


@dataclass
class Attempt:
    """The outcome of one sign-in, set by the caller: True, False (wrong credentials) or None
    (not decided, e.g. the database failed; nothing is counted)."""

    succeeded: bool | None = None


class LoginThrottle:
    """Counts failed sign-ins per email and per client address."""

    def __init__(self, *, per_email: str, per_client: str, storage: Storage | None = None) -> None:
        self.per_email: RateLimitItem = parse(per_email)
        self.per_client: RateLimitItem = parse(per_client)
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())
        self._checking: Counter[tuple[str, str]] = Counter()

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        """The throttle the settings describe (Redis-backed when `redis_url` is set)."""
        storage: Storage
        if settings.redis_url:
            storage = RedisStorage(
                f"async+{settings.redis_url}",
                implementation="redispy",
                key_prefix="switchboard-login",
                wrap_exceptions=True,
            )
        else:
            storage = MemoryStorage()
        return cls(
            per_email=settings.auth.login_attempts,
            per_client=settings.auth.login_attempts_per_ip,
            storage=storage,
        )

    @asynccontextmanager
    async def attempt(self, *, email: str, client: str) -> AsyncIterator[Attempt]:
        """Guard one sign-in: 429 if a limit is reached, else the caller checks the credentials
        and sets `succeeded`; a failure is then counted, a success clears the email's count."""
        keys = (
            (self.per_email, "email", _digest(email.strip().lower())),
            (self.per_client, "client", client),
        )
        for _, scope, key in keys:
            self._checking[scope, key] += 1
        try:
            try:
                for item, scope, key in keys:
                    await self._refuse_if_spent(item, scope, key)
                outcome = Attempt()
                yield outcome
                if outcome.succeeded is False:
                    for item, scope, key in keys:
                        await self._limiter.hit(item, scope, key)
                elif outcome.succeeded:
                    await self._limiter.clear(self.per_email, "email", keys[0][2])
            except StorageError as exc:
                raise ServiceUnavailable(
                    "the login throttle's store (Redis at SWITCHBOARD_REDIS_URL) is "
                    "unreachable; retry shortly",
                    headers={"Retry-After": "5"},
                ) from exc
        finally:
            for _, scope, key in keys:
                self._checking[scope, key] -= 1
                if not self._checking[scope, key]:
                    del self._checking[scope, key]

    async def _refuse_if_spent(self, item: RateLimitItem, scope: str, key: str) -> None:
        cost = self._checking[scope, key]
        if await self._limiter.test(item, scope, key, cost=cost):
            return
        stats = await self._limiter.get_window_stats(item, scope, key)
        # Refused only because of attempts still in flight: one of them frees a slot soon.
        wait = 1 if stats.remaining > 0 else max(1, math.ceil(stats.reset_time - time.time()))
        subject = "this email address" if scope == "email" else "your network address"
        raise TooManyRequests(
            f"too many failed sign-ins for {subject} (the limit is {_describe(item)}); "
            f"try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
            retry_after=wait,
        )


def _digest(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def _describe(item: RateLimitItem) -> str:
    seconds = item.get_expiry()
    span = f"{seconds // 60} minutes" if seconds % 60 == 0 and seconds >= 60 else f"{seconds} s"
    return f"{item.amount} per {span}"
