"""Login throttling: failed sign-ins are counted in moving windows (the `limits` library), in
process or in Redis when `redis_url` is set so that every process shares the counts, under
three keys:

- **(email, client address)**: the tight limit (`login_attempts`, default 5 per 15 minutes and
  20 per day). A stranger's wrong passwords from one address refuse only that address, so the
  account's owner still signs in from theirs.
- **email, from every address** (`login_attempts_per_email`, default 100 per day): slower, so
  a guesser spread over many addresses is still slowed.
- **client address, for every email** (`login_attempts_per_ip`): one address guessing many
  accounts.

Only failures count (a wrong password, or a wrong or replayed one-time code); a success clears
its (email, address) count only, so the owner signing in does not give a distributed guesser
fresh tries. An attempt is refused (429 with `Retry-After`) while the failures already stored
plus the attempts still being checked in this process would reach a limit, so a burst of
parallel guesses gets no more tries than a patient attacker. Unknown emails are counted like
known ones: a 429 tells nothing about which accounts exist. Emails and addresses are kept only
as digests in the store.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from app.config import Settings
from app.errors import ServiceUnavailable, TooManyRequests
from app.ratelimit.storage import limits_storage


@dataclass
class Attempt:
    """The outcome of one sign-in, set by the caller: True, False (wrong credentials) or None
    (not decided, e.g. the database failed, or a code is still needed; nothing is counted)."""

    succeeded: bool | None = None


@dataclass(frozen=True)
class _Key:
    """One counter an attempt is checked against: its limits, its scope and its key."""

    items: tuple[RateLimitItem, ...]
    scope: str
    key: str


_SUBJECTS = {
    "pair": "this email address from your network address",
    "email": "this email address (from every network address)",
    "client": "your network address",
}


class LoginThrottle:
    """Counts failed sign-ins per (email, client address), per email and per client address."""

    def __init__(
        self,
        *,
        per_email_and_client: str,
        per_email: str,
        per_client: str,
        storage: Storage | None = None,
    ) -> None:
        self.per_email_and_client = tuple(parse_many(per_email_and_client))
        self.per_email = tuple(parse_many(per_email))
        self.per_client = tuple(parse_many(per_client))
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())
        self._checking: Counter[tuple[str, str]] = Counter()

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        """The throttle the settings describe (Redis-backed when `redis_url` is set)."""
        return cls(
            per_email_and_client=settings.auth.login_attempts,
            per_email=settings.auth.login_attempts_per_email,
            per_client=settings.auth.login_attempts_per_ip,
            storage=limits_storage(settings, key_prefix="switchboard-login"),
        )

    @asynccontextmanager
    async def attempt(self, *, email: str, client: str) -> AsyncIterator[Attempt]:
        """Guard one sign-in: 429 if a limit is reached, else the caller checks the credentials
        and sets `succeeded`; a failure is then counted under every key, a success clears the
        (email, address) count."""
        email_key = _digest(email.strip().lower())
        client_key = _digest(client)
        keys = (
            _Key(self.per_email_and_client, "pair", f"{email_key}:{client_key}"),
            _Key(self.per_email, "email", email_key),
            _Key(self.per_client, "client", client_key),
        )
        for k in keys:
            self._checking[k.scope, k.key] += 1
        try:
            try:
                for k in keys:
                    await self._refuse_if_spent(k)
                outcome = Attempt()
                yield outcome
                if outcome.succeeded is False:
                    for k in keys:
                        for item in k.items:
                            await self._limiter.hit(item, k.scope, k.key)
                elif outcome.succeeded:
                    pair = keys[0]
                    for item in pair.items:
                        await self._limiter.clear(item, pair.scope, pair.key)
            except StorageError as exc:
                raise ServiceUnavailable(
                    "the login throttle's store (Redis at SWITCHBOARD_REDIS_URL) is "
                    "unreachable; retry shortly",
                    headers={"Retry-After": "5"},
                ) from exc
        finally:
            for k in keys:
                self._checking[k.scope, k.key] -= 1
                if not self._checking[k.scope, k.key]:
                    del self._checking[k.scope, k.key]

    async def _refuse_if_spent(self, key: _Key) -> None:
        cost = self._checking[key.scope, key.key]
        for item in key.items:
            if await self._limiter.test(item, key.scope, key.key, cost=cost):
                continue
            stats = await self._limiter.get_window_stats(item, key.scope, key.key)
            # Refused only because of attempts still in flight: one of them frees a slot soon.
            wait = 1 if stats.remaining > 0 else max(1, math.ceil(stats.reset_time - time.time()))
            raise TooManyRequests(
                f"too many failed sign-ins for {_SUBJECTS[key.scope]} (the limit is "
                f"{_describe(item)}); try again in {wait} seconds",
                headers={"Retry-After": str(wait)},
                retry_after=wait,
            )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _describe(item: RateLimitItem) -> str:
    seconds = item.get_expiry()
    if seconds % 86400 == 0:
        days = seconds // 86400
        span = "day" if days == 1 else f"{days} days"
    elif seconds % 60 == 0:
        span = f"{seconds // 60} minutes"
    else:
        span = f"{seconds} s"
    return f"{item.amount} per {span}"
