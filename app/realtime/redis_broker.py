"""The broker across processes: events go through Redis pub/sub as JSON text.

Each process keeps ONE Redis subscriber connection, shared by all its subscriptions: a channel
is subscribed in Redis while at least one local subscriber wants it, and a subscription is
returned only once Redis has confirmed it, so everything published afterwards reaches it.

Redis pub/sub forgets what it could not deliver. When the subscriber connection fails (or stops
answering pings) every local subscription ends with `BrokerUnavailable`, rather than silently
reconnecting with a gap: streams close, and their clients reconnect and catch up from storage
with `?after=seq`. The next subscription opens a fresh connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.realtime.broker import (
    QUEUE_SIZE,
    BrokerUnavailable,
    Event,
    Fanout,
    Subscription,
    encode,
)

log = logging.getLogger(__name__)

# How long Redis may take to confirm a SUBSCRIBE, and to answer anything at all.
CONFIRM_SECONDS = 5.0
SOCKET_SECONDS = 5.0
# An idle subscriber connection is pinged this often; no answer by the next ping means lost.
PING_SECONDS = 15.0


class _Listener:
    """One Redis subscriber connection and the task that reads it."""

    def __init__(
        self,
        client: Redis,
        deliver: Callable[[str, Event], None],
        lost: Callable[[_Listener, BaseException], None],
    ) -> None:
        self._pubsub: PubSub = client.pubsub()
        self._deliver = deliver
        self._lost = lost
        self._confirmations: dict[str, deque[asyncio.Future[None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.alive = True

    async def start(self) -> None:
        """Connect and start reading."""
        await self._pubsub.connect()
        self._task = asyncio.create_task(self._read(), name="redis-broker-listener")

    async def subscribe(self, channels: list[str]) -> None:
        """Subscribe to `channels` and wait until Redis confirms each."""
        loop = asyncio.get_running_loop()
        waits = []
        for channel in channels:
            future: asyncio.Future[None] = loop.create_future()
            self._confirmations.setdefault(channel, deque()).append(future)
            waits.append(future)
        await self._pubsub.subscribe(*channels)
        async with asyncio.timeout(CONFIRM_SECONDS):
            await asyncio.gather(*waits)

    async def unsubscribe(self, channels: list[str]) -> None:
        """Stop receiving `channels` (not waited for: late events find no subscriber)."""
        await self._pubsub.unsubscribe(*channels)

    async def close(self) -> None:
        """Stop reading and close the connection."""
        self.alive = False
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        self._fail_confirmations(BrokerUnavailable("the broker is closed"))
        with suppress(RedisError, OSError):
            await self._pubsub.aclose()

    def _fail_confirmations(self, error: BaseException) -> None:
        for waiting in self._confirmations.values():
            for future in waiting:
                if not future.done():
                    future.set_exception(error)
        self._confirmations.clear()

    async def _read(self) -> None:
        awaiting_pong = False
        try:
            while True:
                message = await self._pubsub.get_message(timeout=PING_SECONDS)
                if message is None:
                    if awaiting_pong:
                        raise BrokerUnavailable(f"Redis did not answer for {PING_SECONDS}s")
                    await self._pubsub.ping()
                    awaiting_pong = True
                    continue
                awaiting_pong = False
                self._handle(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure ends every subscription (see module doc)
            self.alive = False
            error = BrokerUnavailable(f"lost the Redis subscriber connection: {exc}")
            self._fail_confirmations(error)
            self._lost(self, exc)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind not in ("message", "subscribe"):
            return
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
        if kind == "subscribe":
            waiting = self._confirmations.get(channel)
            if waiting:
                future = waiting.popleft()
                if not future.done():
                    future.set_result(None)
                if not waiting:
                    del self._confirmations[channel]
            return
        try:
            event = json.loads(message["data"])
        except ValueError:
            log.warning("dropped a malformed event on %s", channel)
            return
        self._deliver(channel, event)


class RedisBroker:
    """Events fanned out across processes by Redis pub/sub."""

    def __init__(self, url: str, *, queue_size: int = QUEUE_SIZE) -> None:
        self.url = url
        self._client = Redis.from_url(
            url, socket_timeout=SOCKET_SECONDS, socket_connect_timeout=SOCKET_SECONDS
        )
        # The subscriber connection never retries in place: a reconnect would hide a gap.
        self._subscriber_client = Redis.from_url(
            url,
            socket_timeout=SOCKET_SECONDS,
            socket_connect_timeout=SOCKET_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self._queue_size = queue_size
        self._fanout = Fanout()
        self._listener: _Listener | None = None
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    async def publish(self, channel: str, event: Event) -> None:
        """PUBLISH `event` as JSON. When Redis cannot be reached the event is logged and
        dropped: what it announces is already stored, and clients catch up from storage."""
        payload = encode(event)
        try:
            await self._client.publish(channel, payload)
        except (RedisError, OSError) as exc:
            log.error("could not publish a %s event on %s: %s", event.get("type"), channel, exc)

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        """Subscribe to `channels`; active once Redis confirmed (raises `BrokerUnavailable`
        when it cannot)."""
        subscription = Subscription(channels, queue_size=self._queue_size)
        async with self._lock:
            if self._closed:
                raise BrokerUnavailable("the broker is closed")
            try:
                listener = await self._listening()
                new = self._fanout.add(subscription)
                if new:
                    await listener.subscribe(new)
            except (RedisError, OSError, TimeoutError) as exc:
                self._fanout.remove(subscription)
                raise BrokerUnavailable(f"could not subscribe through Redis: {exc}") from exc
            except BaseException:
                self._fanout.remove(subscription)
                raise
        try:
            yield subscription
        finally:
            async with self._lock:
                gone = self._fanout.remove(subscription)
                if gone and listener is self._listener and listener.alive:
                    try:
                        await listener.unsubscribe(gone)
                    except (RedisError, OSError) as exc:
                        log.warning("could not unsubscribe from Redis: %s", exc)

    async def _listening(self) -> _Listener:
        if self._listener is None or not self._listener.alive:
            listener = _Listener(self._subscriber_client, self._fanout.deliver, self._on_lost)
            await listener.start()
            self._listener = listener
        return self._listener

    def _on_lost(self, listener: _Listener, exc: BaseException) -> None:
        log.error("Redis subscriber connection lost (%s); live streams will reconnect", exc)
        if listener is self._listener:
            self._listener = None
            self._fanout.end_all(BrokerUnavailable("the connection to Redis was lost"))
        task = asyncio.get_running_loop().create_task(listener.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """End every subscription and close both connections."""
        self._closed = True
        self._fanout.end_all()
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await self._client.aclose()
        await self._subscriber_client.aclose()
