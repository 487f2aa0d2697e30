"""Helpers of the WebSocket tests: open a stream, read its events, see how it closed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import LiveServer, Opened

WAIT = 15.0  # a turn runs the model; generous on a busy machine


def customer_stream(
    server: LiveServer, opened: Opened, *, after: int | str | None = None, header: bool = True
) -> Any:
    """`async with customer_stream(...) as ws:` the conversation's stream, authenticated by
    header (or, with header=False, by nothing yet: the test sends the auth frame)."""
    conversation_id, auth = opened
    query = "" if after is None else f"?after={after}"
    url = server.ws(f"/api/v1/conversations/{conversation_id}/stream{query}")
    return connect(url, additional_headers=auth if header else None, open_timeout=WAIT)


def agent_stream(server: LiveServer, headers: dict[str, str] | None) -> Any:
    """`async with agent_stream(...) as ws:` the staff stream."""
    return connect(server.ws("/api/v1/agent/stream"), additional_headers=headers, open_timeout=WAIT)


def token_of(headers: dict[str, str]) -> str:
    """The bearer token in auth headers."""
    return headers["Authorization"].removeprefix("Bearer ")


async def next_event(ws: ClientConnection, timeout: float = WAIT) -> dict[str, Any]:
    """The next event (fails after `timeout` seconds)."""
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))  # type: ignore[no-any-return]


async def until_ready(ws: ClientConnection) -> tuple[list[dict[str, Any]], int]:
    """The replayed message events and the `ready` seq."""
    replayed = []
    while True:
        event = await next_event(ws)
        if event["type"] == "ready":
            return replayed, event["seq"]
        assert event["type"] == "message", event
        replayed.append(event)


async def messages(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next `count` message events (other events skipped)."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        event = await next_event(ws)
        if event["type"] == "message":
            found.append(event)
    return found


async def quiet(ws: ClientConnection, seconds: float = 0.3) -> list[dict[str, Any]]:
    """Events that arrive within `seconds` (expected: none)."""
    events = []
    try:
        while True:
            events.append(await next_event(ws, seconds))
    except TimeoutError:
        return events


async def closed_with(ws: ClientConnection, timeout: float = WAIT) -> tuple[int, str]:
    """The close code and reason the server closed with (events before it are skipped)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "closed without a close frame"
        return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("unreachable")
