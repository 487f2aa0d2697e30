"""A staff member's live stream: `/api/v1/agent/stream`.

It carries the staff channel (queue, presence, notes) and the user's own channel (their
conversations' messages, assignments), opens with `{"type": "hello"}` and the presence of every
staff member, keeps the user's presence alive while open (heartbeats: `app/agents/presence.py`)
and closes with 4401 once their token stops being valid: at once when the revocation is
announced on the user's channel (logout, deactivation: app/auth/revocation.py, in every process
through the broker), else at the next heartbeat's check. Closing a user's last stream in this
process marks them offline at once, so nothing is auto-assigned to a console just closed.

Authentication (a bearer header or a first `auth` frame), pings and close codes are the
transport's: app/realtime/sockets.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from fastapi import APIRouter, WebSocket
from fastapi.encoders import jsonable_encoder
from starlette.datastructures import State

from app.agents.presence import heartbeat, heartbeat_seconds, list_presence, mark_gone, mark_seen
from app.auth import service as auth_service
from app.auth import totp
from app.auth.service import StaffUser
from app.config import AgentSettings
from app.db import Database
from app.deps import BrokerDep, DbDep, SettingsDep
from app.realtime.broker import STAFF_CHANNEL, Broker, Event, Subscription, agent_channel
from app.realtime.sockets import (
    FORBIDDEN,
    GOING_AWAY,
    UNAUTHORIZED,
    LiveSocket,
    StreamClosed,
    answer_client,
    read_token,
    run_until_first_ends,
    serve,
)
from app.security import hash_token

log = logging.getLogger(__name__)

router = APIRouter(tags=["realtime"])


@router.websocket("/api/v1/agent/stream")
async def agent_stream(
    websocket: WebSocket, db: DbDep, broker: BrokerDep, settings: SettingsDep
) -> None:
    """A staff member's live feed (see the module docstring)."""
    feed = _Feed(db, broker, settings.agents)

    async def body(socket: LiveSocket) -> None:
        token = await read_token(socket)
        user = await db.read(auth_service.user_for_token, token=token)
        if user is None:
            raise StreamClosed(
                UNAUTHORIZED, "not a valid staff token (unknown, expired or revoked); sign in"
            )
        if totp.must_enrol(user, required_for_admins=settings.auth.require_totp_for_admins):
            raise StreamClosed(
                FORBIDDEN, "enrol a second factor first: POST /api/v1/auth/totp/enrol"
            )
        channels = (STAFF_CHANNEL, agent_channel(user.id))
        streams = LocalStreams.of(websocket.app.state)
        async with broker.subscribe(*channels) as subscription:
            # Checked again once subscribed: a revocation announced in between is not missed.
            if await db.read(auth_service.user_for_token, token=token) is None:
                raise StreamClosed(UNAUTHORIZED, "the token was revoked; sign in again")
            streams.opened(user.id)
            try:
                await feed.greet(socket, user)
                await run_until_first_ends(
                    _forward_all(socket, subscription, hash_token(token)),
                    answer_client(socket),
                    feed.keep_alive(token),
                )
            finally:
                if streams.closed(user.id):
                    await feed.announce_gone(user.id)

    await serve(websocket, body)


async def _forward_all(socket: LiveSocket, subscription: Subscription, token_digest: str) -> None:
    async for event in subscription:
        if event.get("type") == "revoked":
            if event.get("token") in (None, token_digest):
                raise StreamClosed(UNAUTHORIZED, str(event.get("reason") or "token revoked"))
            continue  # another token of the same user: not this stream's business
        await socket.send(event)
    raise StreamClosed(GOING_AWAY, "the service is shutting down; reconnect")


class _Feed:
    """What an agent stream does besides forwarding: presence kept up while it is open."""

    def __init__(self, db: Database, broker: Broker, settings: AgentSettings) -> None:
        self._db = db
        self._broker = broker
        self._settings = settings

    async def greet(self, socket: LiveSocket, user: StaffUser) -> None:
        """Mark the user seen, send `hello` with everyone's presence, announce the user."""
        settings = self._settings
        sighting = await self._db.run(mark_seen, user_id=user.id, settings=settings)
        agents = await self._db.read(list_presence, settings=settings)
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
            await self._broker.publish(STAFF_CHANNEL, sighting.event())

    async def keep_alive(self, token: str) -> None:
        """Heartbeat: re-check the token and mark the user seen; announce them if they were not
        counted online before (e.g. their stream in another process had closed)."""
        settings = self._settings
        while True:
            await asyncio.sleep(heartbeat_seconds(settings))
            sighting = await self._db.run(heartbeat, token=token, settings=settings)
            if sighting is None:
                raise StreamClosed(UNAUTHORIZED, "the token expired or was revoked; sign in again")
            if sighting.online and not sighting.was_online:
                await self._broker.publish(STAFF_CHANNEL, sighting.event())

    async def announce_gone(self, user_id: int) -> None:
        """The user's last stream here closed: offline until seen again, and staff are told."""
        try:
            sighting = await self._db.run(mark_gone, user_id=user_id)
            if sighting is not None:
                await self._broker.publish(STAFF_CHANNEL, sighting.event())
        except Exception:  # the socket is gone either way; presence then lapses by timeout
            log.exception("could not record that user %s left", user_id)


class LocalStreams:
    """How many agent streams each user has open in this process."""

    def __init__(self) -> None:
        self._open: Counter[int] = Counter()

    @classmethod
    def of(cls, state: State) -> LocalStreams:
        """The counter kept in the application's state."""
        streams = getattr(state, "agent_streams", None)
        if streams is None:
            streams = cls()
            state.agent_streams = streams
        return streams

    def opened(self, user_id: int) -> None:
        """A stream of `user_id` opened."""
        self._open[user_id] += 1

    def closed(self, user_id: int) -> bool:
        """A stream of `user_id` closed; True if it was their last one here."""
        self._open[user_id] -= 1
        if self._open[user_id] <= 0:
            del self._open[user_id]
            return True
        return False
