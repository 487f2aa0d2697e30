"""What both live streams share: close codes, authentication (an `Authorization: Bearer`
header, or a first frame `{"type": "auth", "token": ...}` for browsers, which cannot set
WebSocket headers), serialised sends, and running the stream's tasks until one ends.

Every stream is accepted first and closed with a code saying why, so a client can tell a bad
token (4401, sign in again) from a transient failure (1013, reconnect).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app.realtime.broker import BrokerError, Event, encode
from app.realtime.events import PONG, error_event

log = logging.getLogger(__name__)

# Close codes: 1xxx from RFC 6455, 4xxx ours (HTTP status + 4000).
NORMAL = 1000
GOING_AWAY = 1001  # the service is shutting down: reconnect later
TRY_AGAIN_LATER = 1013  # too slow, broker lost, or still starting: reconnect with ?after=
BAD_REQUEST = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404

AUTH_SECONDS = 10.0
MAX_FRAME_CHARS = 4096  # clients send only small control frames
# The most a frame of MAX_FRAME_CHARS can take in UTF-8: the server (app/server_limits.py)
# refuses a longer message as it arrives, before reading it.
MAX_FRAME_BYTES = MAX_FRAME_CHARS * 4


class StreamClosed(Exception):
    """Close the stream with `code` and a short `reason` (at most 123 bytes)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class LiveSocket:
    """An accepted WebSocket: JSON events out (one send at a time), control frames in."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._send_lock = asyncio.Lock()

    async def send(self, event: Event) -> None:
        """Send one event as a JSON text frame."""
        async with self._send_lock:
            await self.websocket.send_text(encode(event))

    async def receive(self) -> dict[str, Any]:
        """The next client frame as a JSON object (WebSocketDisconnect when the client left,
        ValueError for a frame that is not one)."""
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        text = message.get("text")
        if text is None:
            raise ValueError("send JSON text frames, not binary ones")
        if len(text) > MAX_FRAME_CHARS:
            raise ValueError(f"frames are limited to {MAX_FRAME_CHARS} characters")
        frame = json.loads(text)
        if not isinstance(frame, dict):
            raise ValueError('send a JSON object such as {"type": "ping"}')
        return frame

    async def close(self, code: int, reason: str) -> None:
        """Close (nothing happens if the client already left)."""
        if WebSocketState.DISCONNECTED in (
            self.websocket.application_state,
            self.websocket.client_state,
        ):
            return
        with suppress(RuntimeError, WebSocketDisconnect, OSError):
            await self.websocket.close(code, reason[:120])


async def read_token(socket: LiveSocket) -> str:
    """The bearer token from the `Authorization` header, else from the first frame, which
    must come within `AUTH_SECONDS`; closes with 4401 otherwise."""
    header = socket.websocket.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise StreamClosed(UNAUTHORIZED, "malformed Authorization header; use Bearer")
        return token.strip()
    try:
        async with asyncio.timeout(AUTH_SECONDS):
            frame = await socket.receive()
    except TimeoutError:
        raise StreamClosed(
            UNAUTHORIZED,
            f'no credentials: send {{"type":"auth","token":...}} within {AUTH_SECONDS:g}s',
        ) from None
    except ValueError:
        frame = {}
    sent = frame.get("token")
    if frame.get("type") != "auth" or not isinstance(sent, str) or not sent.strip():
        raise StreamClosed(
            UNAUTHORIZED, 'the first frame must be {"type":"auth","token":"<token>"}'
        )
    return sent.strip()


async def answer_client(socket: LiveSocket) -> None:
    """Read client frames until the client leaves: `ping` gets `pong`; a repeated `auth` is
    ignored; anything else gets an `error` event (the stream stays open)."""
    while True:
        try:
            frame = await socket.receive()
        except WebSocketDisconnect:
            return
        except ValueError as exc:
            await socket.send(error_event(f"unreadable frame: {exc}"))
            continue
        kind = frame.get("type")
        if kind == "ping":
            await socket.send(PONG)
        elif kind != "auth":
            await socket.send(error_event(f'unknown frame type {kind!r}; send {{"type":"ping"}}'))


async def run_until_first_ends(*jobs: Coroutine[Any, Any, None]) -> None:
    """Run `jobs` together until one returns or raises; cancel the others and re-raise."""
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()


async def serve(websocket: WebSocket, body: Callable[[LiveSocket], Awaitable[None]]) -> None:
    """Accept, run `body`, and close with the code its outcome calls for: `StreamClosed`'s
    own, 1013 when the subscription was cut off; 1000 if `body` returns with the client
    still connected."""
    await websocket.accept()
    socket = LiveSocket(websocket)
    try:
        await body(socket)
    except StreamClosed as closed:
        await socket.close(closed.code, closed.reason)
    except BrokerError as exc:
        log.info("live stream cut off: %s", exc)
        await socket.close(TRY_AGAIN_LATER, f"{exc}; reconnect with ?after=<last seq>")
    except WebSocketDisconnect:
        pass
    else:
        if websocket.client_state == WebSocketState.CONNECTED:
            await socket.close(NORMAL, "")
