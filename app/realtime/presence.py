"""Presence kept by agent streams: an open stream is a heartbeat (the user's `last_seen_at` is
bumped every `HEARTBEAT_SECONDS`), and closing a user's last stream in this process clears
`last_seen_at`, so they stop counting as online at once rather than when the timeout runs out
(no auto-assignment to a console that was just closed). A stream in another process restores
it at its next heartbeat, which then announces the user online again.

Whether someone is online is decided as everywhere else (app/agents/availability.py): they
chose `online` and were seen within `presence_timeout_seconds`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from starlette.datastructures import State

from app.agents.availability import is_online
from app.auth import service as auth_service
from app.auth.models import User
from app.config import AgentSettings
from app.db import utcnow
from app.realtime.broker import Event
from app.realtime.events import presence_event

_users = User.__table__

HEARTBEAT_SECONDS = 20.0


def heartbeat_seconds(settings: AgentSettings) -> float:
    """How often a stream marks its user seen: well within the presence timeout."""
    return min(HEARTBEAT_SECONDS, settings.presence_timeout_seconds / 3)


@dataclass(frozen=True)
class Sighting:
    """A user's presence after a heartbeat, and whether they counted as online before it."""

    user_id: int
    name: str
    presence: str
    online: bool
    was_online: bool

    def event(self) -> Event:
        """The presence event announcing this state."""
        return presence_event(
            id=self.user_id, name=self.name, presence=self.presence, online=self.online
        )


def mark_seen(conn: Connection, *, user_id: int, settings: AgentSettings) -> Sighting | None:
    """Record that the user was seen now (None if the user no longer exists)."""
    row = conn.execute(
        select(_users.c.name, _users.c.presence, _users.c.last_seen_at).where(
            _users.c.id == user_id
        )
    ).first()
    if row is None:
        return None
    now = utcnow()
    was_online = is_online(row.presence, row.last_seen_at, now=now, settings=settings)
    conn.execute(update(_users).where(_users.c.id == user_id).values(last_seen_at=now))
    online = is_online(row.presence, now, now=now, settings=settings)
    return Sighting(user_id, row.name, row.presence, online, was_online)


def heartbeat(conn: Connection, *, token: str, settings: AgentSettings) -> Sighting | None:
    """Check the stream's token again and mark its user seen; None once the token expired,
    was revoked, or the account was deactivated."""
    user = auth_service.user_for_token(conn, token=token)
    if user is None:
        return None
    return mark_seen(conn, user_id=user.id, settings=settings)


def mark_gone(conn: Connection, *, user_id: int) -> Sighting | None:
    """The user closed their last stream here: clear `last_seen_at` (offline until seen
    again)."""
    row = conn.execute(
        update(_users)
        .where(_users.c.id == user_id)
        .values(last_seen_at=None)
        .returning(_users.c.name, _users.c.presence)
    ).first()
    if row is None:
        return None
    return Sighting(user_id, row.name, row.presence, online=False, was_online=True)


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
