"""The customer's live stream: `/api/v1/conversations/{id}/stream?after=<seq>`.

Subscribe to the conversation's channel FIRST, then replay the stored messages with seq >
`after`, send `{"type": "ready", "seq"}`, then forward live events. A live message already sent
by the replay is dropped (its seq is not above the last sent), and a live message that skips
ahead has the messages between fetched from storage first; so a client that reconnects with
the last seq it saw gets every message exactly once, in order.

Authentication (a bearer header or a first `auth` frame), pings and close codes are the
transport's: app/realtime/sockets.py.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from app.conversations import service as conversation_service
from app.conversations.access import TokenExpired
from app.conversations.deps import CustomerAccessDep
from app.conversations.views import message_event
from app.db import Database
from app.deps import BrokerDep, DbDep
from app.errors import Forbidden, NotFound
from app.realtime.broker import Subscription, conversation_channel
from app.realtime.events import ready_event
from app.realtime.sockets import (
    BAD_REQUEST,
    FORBIDDEN,
    GOING_AWAY,
    NOT_FOUND,
    LiveSocket,
    StreamClosed,
    answer_client,
    read_token,
    run_until_first_ends,
    serve,
)

REPLAY_PAGE = 200
MAX_SEQ = 2**31 - 1

router = APIRouter(tags=["realtime"])


@router.websocket("/api/v1/conversations/{conversation_id}/stream")
async def conversation_stream(
    websocket: WebSocket,
    conversation_id: str,
    db: DbDep,
    broker: BrokerDep,
    access: CustomerAccessDep,
) -> None:
    """The customer's live view of a conversation (see the module docstring)."""

    async def body(socket: LiveSocket) -> None:
        after = _after(websocket.query_params.get("after"))
        token = await read_token(socket)
        try:
            await access.check(conversation_id=conversation_id, token=token)
        except NotFound:
            raise StreamClosed(NOT_FOUND, "no such conversation") from None
        except TokenExpired as expired:
            raise StreamClosed(FORBIDDEN, expired.message) from None
        except Forbidden:
            raise StreamClosed(FORBIDDEN, "this token does not open this conversation") from None
        async with broker.subscribe(conversation_channel(conversation_id)) as subscription:
            stream = _CustomerStream(db, socket, conversation_id)
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


class _CustomerStream:
    """The messages sent to one customer socket, each once and in order."""

    def __init__(self, db: Database, socket: LiveSocket, conversation_id: str) -> None:
        self.db = db
        self.socket = socket
        self.conversation_id = conversation_id
        self.last_seq = 0

    async def replay_from(self, after: int) -> None:
        """Send every stored message with seq > `after` (4400 if `after` is beyond the
        conversation's last seq: the client's position is wrong)."""
        last = await self.db.read(
            conversation_service.last_seq, conversation_id=self.conversation_id
        )
        if last is None:
            raise StreamClosed(NOT_FOUND, "no such conversation")
        if after > last:
            raise StreamClosed(BAD_REQUEST, f"after={after} is beyond the last seq ({last})")
        self.last_seq = after
        await self._send_stored(before=None)

    async def _send_stored(self, *, before: int | None) -> None:
        """Send stored messages after `last_seq` (and below `before`), page by page."""
        while True:
            page = await self.db.read(
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
