"""Live events between the parts of the service: publish an event on a channel, subscribe to
channels and iterate over what arrives.

Publishing never waits on a subscriber. Each subscription has a bounded queue; a subscriber
that falls that far behind is ended with `SlowSubscriber` (its stream then closes and the
client reconnects, asking for what it missed with `?after=seq`), so one slow socket can never
hold up a turn or other subscribers.

`MemoryBroker` serves one process; `RedisBroker` (app/realtime/redis_broker.py) fans events out
across processes through Redis pub/sub. Both carry JSON: an event that cannot be encoded as
JSON fails at `publish`, in memory as over Redis.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

Event = dict[str, Any]

STAFF_CHANNEL = "staff"
# Events a subscriber may have waiting before it counts as too slow and is ended.
QUEUE_SIZE = 1000


def conversation_channel(conversation_id: str) -> str:
    """The channel of a conversation's events (its customer's stream)."""
    return f"conversation:{conversation_id}"


def agent_channel(user_id: int) -> str:
    """The channel of one staff member's own events."""
    return f"agent:{user_id}"


def encode(event: Event) -> str:
    """The JSON text an event travels as."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


class BrokerError(Exception):
    """A subscription ended before its subscriber left; what was published since is lost to
    it, so its client must catch up from storage."""


class SlowSubscriber(BrokerError):
    """The subscriber let its queue fill up."""


class BrokerUnavailable(BrokerError):
    """The broker lost its connection (Redis) or was closed."""


_END = object()


class Subscription:
    """Events published on `channels` since subscribing, in publication order per publisher.

    `async for event in subscription` yields them; the loop ends when the broker closes and
    raises a `BrokerError` when the subscription was cut off (too slow, broker lost).
    """

    def __init__(self, channels: tuple[str, ...], *, queue_size: int = QUEUE_SIZE) -> None:
        self.channels = channels
        self._queue: asyncio.Queue[Any] = asyncio.Queue(queue_size + 1)  # + room for _END
        self._capacity = queue_size
        self._error: BrokerError | None = None
        self.ended = False

    def deliver(self, event: Event) -> None:
        """Queue `event` without waiting; ends the subscription if its queue is full."""
        if self.ended:
            return
        if self._queue.qsize() >= self._capacity:
            self.end(SlowSubscriber(f"more than {self._capacity} events were waiting"))
            return
        self._queue.put_nowait(event)

    def end(self, error: BrokerError | None = None) -> None:
        """Stop the subscription: its iteration stops (or raises `error`) once the events
        already queued are read; with an error, queued events are dropped."""
        if self.ended:
            return
        self.ended = True
        self._error = error
        if error is not None:
            while not self._queue.empty():
                self._queue.get_nowait()
        self._queue.put_nowait(_END)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # later calls end too
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        return item


class Broker(Protocol):
    """Publish/subscribe of JSON events on named channels."""

    async def publish(self, channel: str, event: Event) -> None:
        """Send `event` to every current subscriber of `channel`. Never waits on subscribers,
        and never fails for want of delivery (the event announces something already stored);
        an event that is not JSON raises TypeError."""
        ...

    def subscribe(self, *channels: str) -> AbstractAsyncContextManager[Subscription]:
        """A subscription to `channels`, active (receiving everything published from then on)
        when the context is entered, and removed when it exits."""
        ...

    async def close(self) -> None:
        """End every subscription and release connections."""
        ...


class Fanout:
    """The subscribers of each channel in this process, and delivery to them."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> list[str]:
        """Register `subscription`; returns the channels that had no subscriber before."""
        new = []
        for channel in subscription.channels:
            subscribers = self._subscribers.setdefault(channel, set())
            if not subscribers:
                new.append(channel)
            subscribers.add(subscription)
        return new

    def remove(self, subscription: Subscription) -> list[str]:
        """Unregister `subscription`; returns the channels left with no subscriber."""
        gone = []
        for channel in subscription.channels:
            subscribers = self._subscribers.get(channel)
            if subscribers is None:
                continue
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[channel]
                gone.append(channel)
        return gone

    def followed(self, channel: str) -> bool:
        """Whether `channel` has a subscriber in this process."""
        return bool(self._subscribers.get(channel))

    def deliver(self, channel: str, event: Event) -> None:
        """Queue `event` for every subscriber of `channel`."""
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.deliver(event)

    def end_all(self, error: BrokerError | None = None) -> None:
        """End every subscription (and forget them)."""
        for subscribers in list(self._subscribers.values()):
            for subscription in list(subscribers):
                subscription.end(error)
        self._subscribers.clear()


class MemoryBroker:
    """The in-process broker: events reach the subscribers of this process only."""

    def __init__(self, *, queue_size: int = QUEUE_SIZE) -> None:
        self._fanout = Fanout()
        self._queue_size = queue_size
        self._closed = False

    async def publish(self, channel: str, event: Event) -> None:
        """Deliver a JSON copy of `event` (shared by the subscribers: read it, do not change
        it) to every subscriber of `channel`; nothing to do for a channel nobody follows."""
        if self._fanout.followed(channel):
            self._fanout.deliver(channel, json.loads(encode(event)))

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        """Subscribe to `channels` (active on entry; `BrokerUnavailable` once closed)."""
        if self._closed:
            raise BrokerUnavailable("the broker is closed")
        subscription = Subscription(channels, queue_size=self._queue_size)
        self._fanout.add(subscription)
        try:
            yield subscription
        finally:
            self._fanout.remove(subscription)

    async def close(self) -> None:
        """End every subscription; later subscriptions end at once."""
        self._closed = True
        self._fanout.end_all()
