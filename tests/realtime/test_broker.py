"""The broker, in memory and over a real Redis: delivery per channel, subscriptions active on
entry, a slow subscriber cut off without holding anyone up, closing, and (Redis) fan-out
between processes and a lost connection surfacing instead of a silent gap."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import pytest
import redis.asyncio
from servicekit import free_port

from app.config import Settings
from app.realtime.broker import (
    Broker,
    BrokerUnavailable,
    MemoryBroker,
    SlowSubscriber,
    Subscription,
    agent_channel,
    conversation_channel,
)
from app.realtime.factory import create_broker
from app.realtime.redis_broker import RedisBroker


def channel() -> str:
    return conversation_channel(str(uuid.uuid4()))


async def take(subscription: Subscription, count: int) -> list[dict]:
    async with asyncio.timeout(5):
        return [await anext(subscription) for _ in range(count)]


async def nothing_more(subscription: Subscription) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await anext(subscription)


def test_channel_names() -> None:
    assert conversation_channel("abc") == "conversation:abc"
    assert agent_channel(7) == "agent:7"


def test_create_broker_follows_settings() -> None:
    assert isinstance(create_broker(Settings()), MemoryBroker)
    assert isinstance(create_broker(Settings(redis_url="redis://127.0.0.1:1/0")), RedisBroker)


async def test_every_subscriber_of_a_channel_gets_each_event_in_order(broker: Broker) -> None:
    one, other = channel(), channel()
    async with (
        broker.subscribe(one) as first,
        broker.subscribe(one, other) as second,
        broker.subscribe(other) as third,
    ):
        for seq in range(1, 4):
            await broker.publish(one, {"type": "message", "seq": seq})
        await broker.publish(other, {"type": "status", "seq": 9})
        assert [e["seq"] for e in await take(first, 3)] == [1, 2, 3]
        assert [e["seq"] for e in await take(second, 4)] == [1, 2, 3, 9]
        assert await take(third, 1) == [{"type": "status", "seq": 9}]
        await nothing_more(first)
        await nothing_more(third)


async def test_a_subscription_is_active_on_entry_and_gone_on_exit(broker: Broker) -> None:
    name = channel()
    await broker.publish(name, {"type": "before"})
    async with broker.subscribe(name) as subscription:
        await broker.publish(name, {"type": "during"})
        assert await take(subscription, 1) == [{"type": "during"}]
    async with broker.subscribe(name) as again:
        await broker.publish(name, {"type": "later"})
        assert await take(again, 1) == [{"type": "later"}]
    await broker.publish(name, {"type": "nobody listens"})  # no error without subscribers


async def test_events_travel_as_json(broker: Broker) -> None:
    name = channel()
    async with broker.subscribe(name) as subscription:
        await broker.publish(name, {"type": "message", "text": "héllo", "n": [1, None, True]})
        assert await take(subscription, 1) == [
            {"type": "message", "text": "héllo", "n": [1, None, True]}
        ]
        with pytest.raises(TypeError):
            await broker.publish(name, {"type": "bad", "when": object()})


async def test_memory_slow_subscriber_is_cut_off_without_blocking_anyone() -> None:
    broker = MemoryBroker(queue_size=10)
    name = channel()
    async with broker.subscribe(name) as slow, broker.subscribe(name) as reader:
        began = time.perf_counter()
        for seq in range(1, 21):
            await broker.publish(name, {"seq": seq})
            if seq <= 10:
                assert (await take(reader, 1))[0]["seq"] == seq
        assert time.perf_counter() - began < 1.0
        with pytest.raises(SlowSubscriber):
            await anext(slow)
        with pytest.raises(SlowSubscriber):  # it stays ended
            await anext(slow)
        # The subscriber that keeps up still gets everything.
        assert [e["seq"] for e in await take(reader, 10)] == list(range(11, 21))
    await broker.close()


async def test_redis_slow_subscriber_is_cut_off(redis_url: str) -> None:
    broker = RedisBroker(redis_url, queue_size=5)
    name = channel()
    try:
        async with broker.subscribe(name) as slow, broker.subscribe(name) as reader:
            for seq in range(1, 21):
                await broker.publish(name, {"seq": seq})
                assert (await take(reader, 1))[0]["seq"] == seq
            with pytest.raises(SlowSubscriber):
                async with asyncio.timeout(5):
                    async for _ in slow:
                        pass
    finally:
        await broker.close()


async def test_close_ends_subscriptions_and_later_ones(broker: Broker) -> None:
    name = channel()
    async with broker.subscribe(name) as subscription:
        await broker.publish(name, {"seq": 1})
        await asyncio.sleep(0.1)
        await broker.close()
        received = [event async for event in subscription]
        assert received in ([{"seq": 1}], [])  # queued events may still be read
    with pytest.raises(BrokerUnavailable):
        async with broker.subscribe(name):
            pass


async def test_redis_carries_events_between_processes(redis_url: str) -> None:
    """Two brokers stand for two processes: a subscription returns only once Redis confirmed
    it, so an event published by the other right after it is received."""
    here, there = RedisBroker(redis_url), RedisBroker(redis_url)
    try:
        for _ in range(20):
            name, staff = channel(), f"staff-{uuid.uuid4()}"
            async with here.subscribe(name, staff) as subscription:
                await there.publish(name, {"type": "message", "seq": 1})
                await there.publish(staff, {"type": "queue"})
                assert await take(subscription, 2) == [
                    {"type": "message", "seq": 1},
                    {"type": "queue"},
                ]
    finally:
        await here.close()
        await there.close()


async def test_redis_unsubscribes_a_channel_when_its_last_subscriber_leaves(
    redis_url: str,
) -> None:
    broker = RedisBroker(redis_url)
    client = redis.asyncio.Redis.from_url(redis_url)
    name = channel()
    try:
        async with broker.subscribe(name), broker.subscribe(name):
            assert (await client.pubsub_numsub(name))[0][1] == 1  # one connection per process
        async with asyncio.timeout(5):
            while (await client.pubsub_numsub(name))[0][1] != 0:
                await asyncio.sleep(0.02)
    finally:
        await client.aclose()
        await broker.close()


async def test_redis_lost_connection_ends_subscriptions_then_recovers(redis_url: str) -> None:
    broker = RedisBroker(redis_url)
    admin = redis.asyncio.Redis.from_url(redis_url)
    name = channel()
    try:
        async with broker.subscribe(name) as subscription:
            await broker.publish(name, {"seq": 1})
            assert await take(subscription, 1) == [{"seq": 1}]
            await admin.client_kill_filter(_type="pubsub")
            with pytest.raises(BrokerUnavailable):
                async with asyncio.timeout(5):
                    await anext(subscription)
        # The next subscription opens a fresh connection.
        async with broker.subscribe(name) as again:
            await broker.publish(name, {"seq": 2})
            assert await take(again, 1) == [{"seq": 2}]
    finally:
        await admin.aclose()
        await broker.close()


async def test_redis_publish_failure_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = RedisBroker(f"redis://127.0.0.1:{free_port()}/0")  # nobody listens there
    try:
        with caplog.at_level(logging.ERROR, logger="app.realtime.redis_broker"):
            await broker.publish("staff", {"type": "queue"})
        assert "could not publish a queue event" in caplog.text
        with pytest.raises(BrokerUnavailable):
            async with broker.subscribe("staff"):
                pass
    finally:
        await broker.close()
