"""The live WebSocket streams.

`/api/v1/conversations/{id}/stream?after=<seq>` (the customer): subscribe to the
conversation's channel FIRST, then replay the stored messages with seq > `after`, send
`{"type": "ready", "seq"}`, then forward live events. A live message already sent by the replay
is dropped (its seq is not above the last sent), and a live message that skips ahead has the
messages between fetched from storage first; so a client that reconnects with the last seq it
saw gets every message exactly once, in order.

`/api/v1/agent/stream` (staff): the staff channel (queue, presence, notes) and the user's own
channel (their conversations' messages, assignments). It opens with `{"type": "hello"}` and the
presence of every staff member, keeps the user's presence alive while open (see
app/realtime/presence.py) and closes with 4401 once their token stops being valid.

Both authenticate with `Authorization: Bearer <token>` or, for browsers, a first frame
`{"type": "auth", "token": "<token>"}` within 10 s; both answer `{"type": "ping"}` with
`{"type": "pong"}`. Close codes: app/realtime/sockets.py.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket
from fastapi.encoders import jsonable_encoder
from sqlalchemy.engine import Connection

from app.agents.presence import list_presence
from app.auth import service as auth_service
from app.auth.service import StaffUser
from app.conversations import service as conversation_service
from app.errors import Forbidden, NotFound
from app.realtime.broker import (
    STAFF_CHANNEL,
    Event,
    Subscription,
    agent_channel,
    conversation_channel,
)
from app.realtime.events import message_event, ready_event
from app.realtime.presence import LocalStreams, heartbeat, heartbeat_seconds, mark_gone, mark_seen
from app.realtime.sockets import (
    BAD_REQUEST,
    FORBIDDEN,
    GOING_AWAY,
    NOT_FOUND,
    UNAUTHORIZED,
    LiveSocket,
    StreamClosed,
    answer_client,
    read_token,
    run_until_first_ends,
    runtime_of,
    serve,
)
from app.runtime import Runtime

log = logging.getLogger(__name__)

REPLAY_PAGE = 200
MAX_SEQ = 2**31 - 1

router = APIRouter(tags=["realtime"])


@router.websocket("/api/v1/conversations/{conversation_id}/stream")
async def conversation_stream(websocket: WebSocket, conversation_id: str) -> None:
    """The customer's live view of a conversation (see the module docstring)."""

    async def body(socket: LiveSocket) -> None:
        runtime = runtime_of(websocket)
        after = _after(websocket.query_params.get("after"))
        token = await read_token(socket)
        try:
            await runtime.customer_access.check(conversation_id=conversation_id, token=token)
        except NotFound:
            raise StreamClosed(NOT_FOUND, "no such conversation") from None
        except Forbidden:
            raise StreamClosed(FORBIDDEN, "this token does not open this conversation") from None
        async with runtime.broker.subscribe(conversation_channel(conversation_id)) as subscription:
            stream = _CustomerStream(runtime, socket, conversation_id)
            await stream.replay_from(after)
            await socket.send(ready_event(stream.last_seq))
            await run_until_first_ends(stream.forward(subscription), answer_client(socket))

    await serve(websocket, body)


def _after(raw: str | None) -> int:
    if raw is None:
        return 0
    try:
        after = int(raw)
    except ValueError:
        after = -1
    if not 0 <= after <= MAX_SEQ:
        raise StreamClosed(BAD_REQUEST, "after must be a whole number >= 0 (the last seq seen)")
    return after


def _last_seq(conn: Connection, *, conversation_id: str) -> int | None:
    summary = conversation_service.get_summary(conn, conversation_id=conversation_id)
    return summary.last_seq if summary is not None else None


class _CustomerStream:
    """The messages sent to one customer socket, each once and in order."""

    def __init__(self, runtime: Runtime, socket: LiveSocket, conversation_id: str) -> None:
        self.runtime = runtime
        self.socket = socket
        self.conversation_id = conversation_id
        self.last_seq = 0

    async def replay_from(self, after: int) -> None:
        """Send every stored message with seq > `after` (4400 if `after` is beyond the
        conversation's last seq: the client's position is wrong)."""
        last = await self.runtime.db.read(_last_seq, conversation_id=self.conversation_id)
        if last is None:
            raise StreamClosed(NOT_FOUND, "no such conversation")
        if after > last:
            raise StreamClosed(BAD_REQUEST, f"after={after} is beyond the last seq ({last})")
        self.last_seq = after
        await self._send_stored(before=None)

    async def _send_stored(self, *, before: int | None) -> None:
        """Send stored messages after `last_seq` (and below `before`), page by page."""
        while True:
            page = await self.runtime.db.read(
                conversation_service.list_after,
                conversation_id=self.conversation_id,
                after=self.last_seq,
                limit=REPLAY_PAGE,
            )
            for message in page:
                if before is not None and message.seq >= before:
                    return
                await self.socket.send(message_event(self.conversation_id, message))
                self.last_seq = message.seq
            if len(page) < REPLAY_PAGE:
                return

    async def forward(self, subscription: Subscription) -> None:
        """Forward live events; message events are deduplicated and gap-filled by seq."""
        async for event in subscription:
            if event.get("type") == "message":
                seq = int(event["seq"])
                if seq <= self.last_seq:
                    continue  # already sent (by the replay or a gap fill)
                if seq > self.last_seq + 1:
                    # Published out of order (another turn's events are still on their way):
                    # what lies between is committed, so it comes from storage.
                    await self._send_stored(before=seq)
                await self.socket.send(event)
                self.last_seq = seq
            else:
                await self.socket.send(event)
        raise StreamClosed(GOING_AWAY, "the service is shutting down; reconnect with ?after=")


@router.websocket("/api/v1/agent/stream")
async def agent_stream(websocket: WebSocket) -> None:
    """A staff member's live feed (see the module docstring)."""

    async def body(socket: LiveSocket) -> None:
        runtime = runtime_of(websocket)
        token = await read_token(socket)
        user = await runtime.db.read(auth_service.user_for_token, token=token)
        if user is None:
            raise StreamClosed(
                UNAUTHORIZED, "not a valid staff token (unknown, expired or revoked); sign in"
            )
        channels = (STAFF_CHANNEL, agent_channel(user.id))
        streams = LocalStreams.of(websocket.app.state)
        async with runtime.broker.subscribe(*channels) as subscription:
            streams.opened(user.id)
            try:
                await _greet(runtime, socket, user)
                await run_until_first_ends(
                    _forward_all(socket, subscription),
                    answer_client(socket),
                    _keep_alive(runtime, token),
                )
            finally:
                if streams.closed(user.id):
                    await _announce_gone(runtime, user.id)

    await serve(websocket, body)


async def _greet(runtime: Runtime, socket: LiveSocket, user: StaffUser) -> None:
    """Mark the user seen, send `hello` with everyone's presence, announce the user."""
    settings = runtime.settings.agents
    sighting = await runtime.db.run(mark_seen, user_id=user.id, settings=settings)
    agents = await runtime.db.read(list_presence, settings=settings)
    hello: Event = {
        "type": "hello",
        "user": {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "presence": user.presence,
        },
        "agents": jsonable_encoder(agents),
    }
    await socket.send(hello)
    if sighting is not None:
        await runtime.broker.publish(STAFF_CHANNEL, sighting.event())


async def _forward_all(socket: LiveSocket, subscription: Subscription) -> None:
    async for event in subscription:
        await socket.send(event)
    raise StreamClosed(GOING_AWAY, "the service is shutting down; reconnect")


async def _keep_alive(runtime: Runtime, token: str) -> None:
    """Heartbeat: re-check the token and mark the user seen; announce them if they were not
    counted online before (e.g. their stream in another process had closed)."""
    settings = runtime.settings.agents
    while True:
        await asyncio.sleep(heartbeat_seconds(settings))
        sighting = await runtime.db.run(heartbeat, token=token, settings=settings)
        if sighting is None:
            raise StreamClosed(UNAUTHORIZED, "the token expired or was revoked; sign in again")
        if sighting.online and not sighting.was_online:
            await runtime.broker.publish(STAFF_CHANNEL, sighting.event())


async def _announce_gone(runtime: Runtime, user_id: int) -> None:
    """The user's last stream here closed: offline until seen again, and staff are told."""
    try:
        sighting = await runtime.db.run(mark_gone, user_id=user_id)
        if sighting is not None:
            await runtime.broker.publish(STAFF_CHANNEL, sighting.event())
    except Exception:  # the socket is gone either way; presence then lapses by timeout
        log.exception("could not record that user %s left", user_id)
