"""The customer's stream over a real socket: replay then live events, reconnecting with
`?after=` without losing or repeating a message, both ways of authenticating, close codes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.conversations.service import StoredMessage
from app.conversations.views import message_event
from app.realtime import sockets
from app.realtime.broker import MemoryBroker, conversation_channel
from tests.conftest import LiveServer, ask, open_conversation
from tests.realtime.live import (
    closed_with,
    customer_stream,
    messages,
    next_event,
    quiet,
    until_ready,
)

QUESTION = "do you deliver to Toronto"


async def test_stream_replays_then_sends_the_bot_reply(start_server: Callable[..., Any]) -> None:
    async with start_server() as server, httpx.AsyncClient(base_url=server) as client:
        opened = await open_conversation(client)
        first = (await ask(client, opened, QUESTION)).json()
        async with customer_stream(server, opened) as ws:
            replayed, ready = await until_ready(ws)
            assert [e["seq"] for e in replayed] == [1, 2]
            assert ready == 2
            assert replayed[0] == {
                "type": "message",
                "conversation_id": opened[0],
                "seq": 1,
                "message": first["message"],
            }
            assert replayed[1]["message"]["author"] == "bot"
            assert replayed[1]["message"]["text"] == first["reply"]["text"]

            posted = (await ask(client, opened, "can I pay with klarna?")).json()
            customer, bot = await messages(ws, 2)
            assert customer["message"] == posted["message"]
            assert (bot["seq"], bot["message"]["author"]) == (4, "bot")
            assert bot["message"]["text"] == posted["reply"]["text"]
            assert "signals" not in bot["message"]["meta"]  # the public view only
            assert await quiet(ws) == []


async def test_reconnect_with_after_gets_exactly_the_missed_messages(
    start_server: Callable[..., Any],
) -> None:
    async with start_server() as server, httpx.AsyncClient(base_url=server) as client:
        opened = await open_conversation(client)
        async with customer_stream(server, opened) as ws:
            assert await until_ready(ws) == ([], 0)
            await ask(client, opened, QUESTION)
            seen = [e["seq"] for e in await messages(ws, 2)]
        # Offline while two more turns happen.
        await ask(client, opened, "can I pay with klarna?")
        await ask(client, opened, "how do I reset my password")
        async with customer_stream(server, opened, after=seen[-1]) as ws:
            replayed, ready = await until_ready(ws)
            assert [e["seq"] for e in replayed] == [3, 4, 5, 6]
            assert ready == 6
            await ask(client, opened, "thanks")
            assert [e["seq"] for e in await messages(ws, 2)] == [7, 8]
            assert await quiet(ws) == []
        async with customer_stream(server, opened, after=8) as ws:
            assert await until_ready(ws) == ([], 8)


async def test_reconnecting_during_turns_loses_and_repeats_nothing(
    start_server: Callable[..., Any],
) -> None:
    """Turns keep landing while the customer's socket drops and reconnects with the last seq
    it saw: over all connections every message arrives exactly once, in order."""
    async with start_server() as server, httpx.AsyncClient(base_url=server) as client:
        opened = await open_conversation(client)
        turns = 8

        async def post_turns() -> None:
            for n in range(turns):
                response = await ask(client, opened, f"question number {n} about shipping")
                assert response.status_code == 201, response.text

        poster = asyncio.create_task(post_turns())
        received: list[int] = []
        connections = 0
        while len(received) < 2 * turns:
            connections += 1
            async with customer_stream(server, opened, after=received[-1] if received else 0) as ws:
                replayed, _ = await until_ready(ws)
                received += [e["seq"] for e in replayed]
                try:  # read a little live traffic, then drop the connection
                    for _ in range(3):
                        event = await next_event(ws, 0.5)
                        if event["type"] == "message":
                            received.append(event["seq"])
                except TimeoutError:
                    pass
        await poster
        assert received == list(range(1, 2 * turns + 1))
        assert connections >= 2


async def test_live_events_out_of_order_are_filled_from_storage(
    start_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two turns' events can be published out of order; the stream sends the messages in
    seq order regardless, fetching what a later event skipped over, and each once."""
    async with start_server() as server, httpx.AsyncClient(base_url=server) as client:
        broker = server.app.state.runtime.broker
        assert isinstance(broker, MemoryBroker)
        opened = await open_conversation(client)
        channel = conversation_channel(opened[0])
        async with customer_stream(server, opened) as ws:
            assert await until_ready(ws) == ([], 0)
            held: list[dict[str, Any]] = []
            real_publish = broker.publish

            async def hold(name: str, event: dict[str, Any]) -> None:
                if name == channel:
                    held.append(event)

            monkeypatch.setattr(broker, "publish", hold)
            await ask(client, opened, QUESTION)  # seq 1, 2
            await ask(client, opened, "can I pay with klarna?")  # seq 3, 4
            monkeypatch.setattr(broker, "publish", real_publish)
            by_seq = {e["seq"]: e for e in held if e["type"] == "message"}
            for seq in (4, 3, 1, 2):
                await broker.publish(channel, by_seq[seq])
            got = await messages(ws, 4)
            assert [e["seq"] for e in got] == [1, 2, 3, 4]
            assert got == [by_seq[s] for s in (1, 2, 3, 4)]
            assert [e for e in await quiet(ws) if e["type"] == "message"] == []


async def test_other_events_pass_through(start_server: Callable[..., Any]) -> None:
    async with start_server() as server, httpx.AsyncClient(base_url=server) as client:
        broker = server.app.state.runtime.broker
        opened = await open_conversation(client)
        async with customer_stream(server, opened) as ws:
            await until_ready(ws)
            status = {
                "type": "status",
                "conversation_id": opened[0],
                "seq": 0,
                "status": "assigned",
                "agent": {"id": 1, "name": "Ada"},
            }
            await broker.publish(conversation_channel(opened[0]), status)
            assert await next_event(ws) == status


async def test_first_frame_authentication(start_server: Callable[..., Any]) -> None:
    async with start_server() as server, httpx.AsyncClient(base_url=server) as client:
        opened = await open_conversation(client)
        await ask(client, opened, QUESTION)
        token = opened[1]["Authorization"].removeprefix("Bearer ")
        async with customer_stream(server, opened, after=1, header=False) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            replayed, ready = await until_ready(ws)
            assert ([e["seq"] for e in replayed], ready) == ([2], 2)
            await ws.send(json.dumps({"type": "ping"}))
            assert await next_event(ws) == {"type": "pong"}
            await ws.send("not json")
            assert (await next_event(ws))["type"] == "error"
            await ws.send(json.dumps({"type": "dance"}))
            assert (await next_event(ws))["type"] == "error"
            await ws.send(json.dumps({"type": "ping"}))  # still open
            assert await next_event(ws) == {"type": "pong"}


async def _close_of(server: LiveServer, opened: Any, **kwargs: Any) -> tuple[int, str]:
    first_frame = kwargs.pop("first_frame", None)
    async with customer_stream(server, opened, **kwargs) as ws:
        if first_frame is not None:
            await ws.send(first_frame)
        return await closed_with(ws)


async def test_close_codes(
    start_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sockets, "AUTH_SECONDS", 0.3)
    async with start_server() as server, httpx.AsyncClient(base_url=server) as client:
        mine = await open_conversation(client)
        theirs = await open_conversation(client)
        await ask(client, mine, QUESTION)
        conversation_id, auth = mine

        # 4401: no credentials in time, a first frame that is not auth, a malformed header.
        code, reason = await _close_of(server, mine, header=False)
        assert code == 4401 and "auth" in reason
        assert (await _close_of(server, mine, header=False, first_frame='{"type":"ping"}'))[
            0
        ] == 4401
        assert (await _close_of(server, mine, header=False, first_frame="garbage"))[0] == 4401
        bad_header = (conversation_id, {"Authorization": "Basic abc"})
        assert (await _close_of(server, bad_header))[0] == 4401
        # 4403: a real token of another conversation; any wrong token.
        assert (await _close_of(server, (conversation_id, theirs[1])))[0] == 4403
        wrong = (conversation_id, {"Authorization": "Bearer not-a-token"})
        assert (await _close_of(server, wrong))[0] == 4403
        # 4404: no such conversation.
        assert (await _close_of(server, ("no-such-id", auth)))[0] == 4404
        # 4400: a position that is not a seq, or beyond the conversation's last one.
        for after in ("-1", "abc", "3"):
            code, reason = await _close_of(server, mine, after=after)
            assert code == 4400, (after, reason)


async def test_a_client_too_slow_for_a_burst_is_closed_and_catches_up(
    start_server: Callable[..., Any],
) -> None:
    """More events arrive at once than a subscriber may queue: the stream closes with 1013
    (the publisher never waits) and a reconnect with ?after= recovers every message."""
    async with start_server() as server, httpx.AsyncClient(base_url=server) as client:
        broker = server.app.state.runtime.broker
        opened = await open_conversation(client)
        await ask(client, opened, QUESTION)
        channel = conversation_channel(opened[0])
        async with customer_stream(server, opened) as ws:
            replayed, _ = await until_ready(ws)
            stale = replayed[0]
            for _ in range(sockets_queue_size() + 1):  # without yielding to the stream
                await broker.publish(channel, stale)
            code, reason = await closed_with(ws)
            assert code == 1013 and "after" in reason
        async with customer_stream(server, opened, after=0) as ws:
            replayed, ready = await until_ready(ws)
            assert ([e["seq"] for e in replayed], ready) == ([1, 2], 2)


def sockets_queue_size() -> int:
    from app.realtime.broker import QUEUE_SIZE

    return QUEUE_SIZE


async def test_broker_shutdown_closes_streams_with_going_away(
    start_server: Callable[..., Any],
) -> None:
    async with start_server() as server, httpx.AsyncClient(base_url=server) as client:
        opened = await open_conversation(client)
        async with customer_stream(server, opened) as ws:
            await until_ready(ws)
            await server.app.state.runtime.broker.close()
            assert (await closed_with(ws))[0] == 1001


def test_message_event_shape() -> None:
    from datetime import UTC, datetime

    stored = StoredMessage(
        seq=3,
        author="bot",
        text="hi",
        created_at=datetime(2026, 1, 2, tzinfo=UTC),
        meta={"kind": "answer", "signals": {"x": 1}},
    )
    assert message_event("c1", stored) == {
        "type": "message",
        "conversation_id": "c1",
        "seq": 3,
        "message": {
            "seq": 3,
            "author": "bot",
            "text": "hi",
            "created_at": "2026-01-02T00:00:00Z",
            "client_id": None,
            "meta": {"kind": "answer"},
        },
    }


async def test_two_processes_share_live_events_through_redis(
    start_server: Callable[..., Any], redis_url: str
) -> None:
    """Two app instances on one database and one Redis stand for two processes behind a load
    balancer: the customer's stream is served by one, their messages posted to the other."""
    async with (
        start_server(redis_url=redis_url) as streaming,
        start_server(redis_url=redis_url) as posting,
        httpx.AsyncClient(base_url=posting) as client,
    ):
        opened = await open_conversation(client)
        await ask(client, opened, QUESTION)
        async with customer_stream(streaming, opened, after=1) as ws:
            replayed, ready = await until_ready(ws)
            assert ([e["seq"] for e in replayed], ready) == ([2], 2)
            posted = (await ask(client, opened, "can I pay with klarna?")).json()
            customer, bot = await messages(ws, 2)
            assert customer["message"] == posted["message"]
            assert bot["message"]["text"] == posted["reply"]["text"]
