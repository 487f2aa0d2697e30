"""How the load test's simulated people talk to the service.

- `Api`: HTTP calls (httpx) that time themselves in the `Recorder` and record every unexpected
  status or transport error; posts carrying a `client_id` are retried after a transport error or
  a 503.
- `CustomerStream`: a customer's WebSocket (`websockets`), authenticated by a first `auth`
  frame as the widget does; it records every message event by seq in the conversation's ledger,
  times bot and agent replies to the stream, wakes waiters, and reconnects with
  `?after=<last seq>` after an unexpected close.
- `stored_messages` reads a conversation back with its customer token; `replayed_seqs` opens a
  fresh customer stream and collects what it replays.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from scripts.loadkit.config import RETRIES, STREAM_OPEN_SECONDS
from scripts.loadkit.report import TAG, Conversation, Recorder


class Api:
    """HTTP calls that time themselves and record every unexpected outcome."""

    def __init__(self, client: httpx.AsyncClient, recorder: Recorder) -> None:
        self.client = client
        self.recorder = recorder

    async def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        expect: Iterable[int] = (200, 201),
        retry: bool = False,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """The response with an expected status, else None (errors recorded). With `retry`,
        transport errors and 503 are retried (the body must be idempotent: a `client_id`)."""
        expected = set(expect)
        attempts = RETRIES if retry else 1
        for attempt in range(attempts):
            started = time.perf_counter()
            try:
                response = await self.client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                self.recorder.errors[f"{operation} {type(exc).__name__}"] += 1
                if attempt + 1 < attempts:
                    await asyncio.sleep(0.2 * 2**attempt)
                continue
            self.recorder.time(operation, time.perf_counter() - started)
            if response.status_code in expected:
                if response.headers.get("Idempotent-Replayed"):
                    self.recorder.counters["idempotent replays"] += 1
                return response
            self.recorder.errors[f"{operation} {response.status_code}"] += 1
            self.recorder.problem(f"{operation}: {response.status_code} {response.text[:200]}")
            if retry and response.status_code == 503 and attempt + 1 < attempts:
                wait = float(response.headers.get("Retry-After") or 0.2 * 2**attempt)
                await asyncio.sleep(min(wait, 2.0))
                continue
            return None
        return None

    async def post_message(
        self, operation: str, path: str, text: str, client_id: str, headers: dict[str, str]
    ) -> httpx.Response | None:
        """POST the message `{"text", "client_id"}` to `path`, retried after a transport error
        or a 503 (the `client_id` makes it idempotent)."""
        return await self.call(
            operation,
            "POST",
            path,
            json={"text": text, "client_id": client_id},
            headers=headers,
            retry=True,
        )


class CustomerStream:
    """A customer's WebSocket: records every message event by seq and wakes waiters; on an
    unexpected close it reconnects with `?after=<last seq>`, as the widget does."""

    def __init__(self, ws_base: str, conversation: Conversation, recorder: Recorder) -> None:
        self.url = f"{ws_base}/api/v1/conversations/{conversation.id}/stream"
        self.conversation = conversation
        self.recorder = recorder
        self.last_seq = 0
        self.arrived: dict[int, float] = {}
        self.waiting_bot: dict[int, float] = {}  # reply seq -> when its turn was posted
        self.agent_texts = 0
        self.statuses: list[str] = []
        self.changed = asyncio.Condition()
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.closing = False

    async def open(self) -> None:
        """Connect (timed) and start reading."""
        started = time.perf_counter()
        await self._connect()
        self.recorder.time("customer stream open", time.perf_counter() - started)
        self.reader = asyncio.create_task(self._read())

    async def _connect(self) -> None:
        """Open the stream after the last seq seen and take in what it replays until `ready`."""
        ws = await connect(f"{self.url}?after={self.last_seq}", open_timeout=STREAM_OPEN_SECONDS)
        try:
            await ws.send(json.dumps({"type": "auth", "token": self.conversation.token}))
            async with asyncio.timeout(STREAM_OPEN_SECONDS):
                while True:
                    event = json.loads(await ws.recv())
                    if event["type"] == "ready":
                        break
                    await self._handle(event)
        except BaseException:
            await ws.close()
            raise
        self.ws = ws

    async def _read(self) -> None:
        """Handle every event until closed, reconnecting after an unexpected close."""
        while not self.closing:
            assert self.ws is not None
            try:
                event = json.loads(await self.ws.recv())
            except ConnectionClosed:
                if self.closing:
                    return
                self.recorder.counters["customer stream reconnects"] += 1
                await self._reconnect()
                continue
            await self._handle(event)

    async def _reconnect(self) -> None:
        """Connect again, up to RETRIES attempts with a growing pause."""
        for attempt in range(RETRIES):
            try:
                await self._connect()
                return
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
                self.recorder.errors[f"customer stream {type(exc).__name__}"] += 1
                await asyncio.sleep(0.2 * 2**attempt)
        raise RuntimeError(f"customer stream of {self.conversation.id} could not reconnect")

    async def _handle(self, event: dict[str, Any]) -> None:
        """Record a message or status event and wake the waiters."""
        now = time.perf_counter()
        if event["type"] == "message":
            seq = int(event["seq"])
            self.conversation.delivered[seq] += 1
            self.last_seq = max(self.last_seq, seq)
            self.arrived.setdefault(seq, now)
            message = event["message"]
            if message["author"] == "bot" and seq in self.waiting_bot:
                self.recorder.time("bot reply -> customer stream", now - self.waiting_bot.pop(seq))
            elif message["author"] == "agent":
                self.agent_texts += 1
                match = TAG.search(message["text"])
                sent = self.conversation.agent.get(match.group(1)) if match else None
                if sent is not None:
                    self.recorder.time("agent reply -> customer stream", now - sent.started)
        elif event["type"] == "status":
            self.statuses.append(str(event["status"]))
        async with self.changed:
            self.changed.notify_all()

    def expect_bot(self, seq: int, posted: float) -> None:
        """Time the bot reply `seq` to the stream from `posted` (now, if it already came)."""
        if seq in self.arrived:
            self.recorder.time("bot reply -> customer stream", self.arrived[seq] - posted)
        else:
            self.waiting_bot[seq] = posted

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until `condition` holds after an event, at most `timeout` seconds; whether it
        holds."""
        try:
            async with self.changed:
                await asyncio.wait_for(self.changed.wait_for(condition), timeout)
            return True
        except TimeoutError:
            return condition()

    async def close(self) -> None:
        """Stop reading (a reader that failed counts as a lost stream) and close."""
        self.closing = True
        if self.reader is not None:
            if self.reader.done() and not self.reader.cancelled() and self.reader.exception():
                self.recorder.errors["customer stream lost"] += 1
                self.recorder.problem(f"{self.conversation.id}: {self.reader.exception()!r}")
            self.reader.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self.reader
        if self.ws is not None:
            with suppress(Exception):
                await self.ws.close()


async def stored_messages(
    api: Api, conversation: Conversation, operation: str = "read messages"
) -> list[dict[str, Any]] | None:
    """Every stored message of the conversation, read with its customer token."""
    messages: list[dict[str, Any]] = []
    after = 0
    while True:
        response = await api.call(
            operation,
            "GET",
            f"/api/v1/conversations/{conversation.id}/messages",
            params={"after": after, "limit": 500},
            headers=conversation.auth,
        )
        if response is None:
            return None
        page = response.json()
        messages.extend(page["messages"])
        if not page["has_more"] or not page["messages"]:
            return messages
        after = page["messages"][-1]["seq"]


async def replayed_seqs(
    ws_base: str, conv: Conversation, recorder: Recorder, *, after: int
) -> set[int]:
    """The seqs a fresh customer stream replays after `after`."""
    url = f"{ws_base}/api/v1/conversations/{conv.id}/stream?after={after}"
    seqs: set[int] = set()
    try:
        async with connect(url, open_timeout=STREAM_OPEN_SECONDS) as ws:
            await ws.send(json.dumps({"type": "auth", "token": conv.token}))
            async with asyncio.timeout(STREAM_OPEN_SECONDS):
                while (event := json.loads(await ws.recv()))["type"] != "ready":
                    if event["type"] == "message":
                        seqs.add(int(event["seq"]))
    except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
        recorder.errors[f"replay stream {type(exc).__name__}"] += 1
    return seqs
