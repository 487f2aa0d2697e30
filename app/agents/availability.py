"""Who can take a handed-off conversation, and what the customer is told meanwhile.

An agent counts as online while they chose `online` and were seen (a request or a stream
heartbeat) within `presence_timeout_seconds`; the check reads the database, so every process of
a deployment agrees. Outside the configured business hours, or with nobody online, a handoff
asks the customer for an email to follow up. Otherwise the customer hears their place in the
queue and, once the service has history, the expected wait: the median wait of recent claims,
times their place, shared among the agents online.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import Connection

from app.auth.models import Presence, User
from app.config import AgentSettings, BusinessHours
from app.conversations.models import Conversation, ConversationStatus, Event, EventType

_users = User.__table__
_conversations = Conversation.__table__
_events = Event.__table__

WAIT_HISTORY = 50  # recent claims the expected wait is the median of
WAIT_HISTORY_DAYS = 7


@dataclass(frozen=True)
class AgentRef:
    """An agent as conversations name them."""

    id: int
    name: str


@dataclass(frozen=True)
class QueueNotice:
    """What a handed-off customer is told: their place and wait, or that nobody is available."""

    position: int | None
    agents_online: int
    expected_wait_seconds: int | None
    follow_up: bool
    open_now: bool
    assigned_to: AgentRef | None = None

    def text(self) -> str:
        """The sentence added to the handoff reply."""
        if self.assigned_to is not None:
            return f"{self.assigned_to.name} will be with you in a moment."
        if self.follow_up:
            when = "outside our opening hours" if not self.open_now else "busy right now"
            return (
                f"Our team is {when}, so nobody can reply live. Leave your email address here "
                "and we'll get back to you."
            )
        place = f"You're number {self.position} in the queue."
        if self.expected_wait_seconds is None:
            return place
        minutes = max(1, round(self.expected_wait_seconds / 60))
        unit = "minute" if minutes == 1 else "minutes"
        return f"{place} The expected wait is about {minutes} {unit}."

    def as_dict(self) -> dict[str, object]:
        """The notice as stored with the reply and shown by the API."""
        return {
            "position": self.position,
            "agents_online": self.agents_online,
            "expected_wait_seconds": self.expected_wait_seconds,
            "follow_up": self.follow_up,
            "open_now": self.open_now,
            "assigned_to": self.assigned_to.name if self.assigned_to else None,
        }


def is_open(hours: BusinessHours | None, now: datetime) -> bool:
    """Whether `now` falls within the business hours (always, when none are configured)."""
    if hours is None:
        return True
    local = now.astimezone(ZoneInfo(hours.timezone))
    if local.weekday() not in hours.days:
        return False
    hhmm = local.strftime("%H:%M")
    if hours.open <= hours.close:
        return hours.open <= hhmm < hours.close
    return hhmm >= hours.open or hhmm < hours.close  # opening hours that span midnight


def _online_clause(now: datetime, settings: AgentSettings) -> tuple[ColumnElement[bool], ...]:
    seen_after = now - timedelta(seconds=settings.presence_timeout_seconds)
    return (
        _users.c.active.is_(True),
        _users.c.presence == Presence.ONLINE.value,
        _users.c.last_seen_at >= seen_after,
    )


def online_agent_ids(conn: Connection, *, now: datetime, settings: AgentSettings) -> list[int]:
    """The ids of staff online now."""
    rows = conn.execute(select(_users.c.id).where(*_online_clause(now, settings)))
    return [int(r) for r in rows.scalars()]


def is_online(
    presence: str, last_seen_at: datetime | None, *, now: datetime, settings: AgentSettings
) -> bool:
    """Whether a user with this presence and last sighting counts as online."""
    if presence != Presence.ONLINE.value or last_seen_at is None:
        return False
    return last_seen_at >= now - timedelta(seconds=settings.presence_timeout_seconds)


def open_conversations() -> Any:
    """A correlated subquery: how many conversations each `users` row has assigned."""
    return (
        select(func.count())
        .where(
            _conversations.c.assigned_agent_id == _users.c.id,
            _conversations.c.status == ConversationStatus.ASSIGNED.value,
        )
        .scalar_subquery()
    )


def pick_agent(conn: Connection, *, now: datetime, settings: AgentSettings) -> AgentRef | None:
    """The online agent with the fewest open conversations, if one is below capacity. The
    chosen user's row is locked (PostgreSQL) and recounted, so simultaneous handoffs in several
    processes cannot push an agent over capacity."""
    open_count = open_conversations()
    candidates = conn.execute(
        select(_users.c.id, _users.c.name, open_count.label("open"))
        .where(*_online_clause(now, settings))
        .order_by(open_count, _users.c.last_seen_at.desc(), _users.c.id)
    ).all()
    for row in candidates:
        if row.open >= settings.capacity:
            break
        conn.execute(select(_users.c.id).where(_users.c.id == row.id).with_for_update())
        recount = conn.execute(
            select(func.count()).where(
                _conversations.c.assigned_agent_id == row.id,
                _conversations.c.status == ConversationStatus.ASSIGNED.value,
            )
        ).scalar_one()
        if recount < settings.capacity:
            return AgentRef(int(row.id), str(row.name))
    return None


def expected_wait_seconds(
    conn: Connection, *, position: int, agents_online: int, now: datetime
) -> int | None:
    """`position` times the median wait of recent claims, shared among the agents online
    (None without history)."""
    rows = conn.execute(
        select(_events.c.data)
        .where(
            _events.c.type == EventType.ASSIGNED,
            _events.c.created_at >= now - timedelta(days=WAIT_HISTORY_DAYS),
        )
        .order_by(_events.c.id.desc())
        .limit(WAIT_HISTORY)
    ).scalars()
    waits = [float(d["wait_seconds"]) for d in rows if d and d.get("wait_seconds") is not None]
    if not waits:
        return None
    return round(statistics.median(waits) * position / max(1, agents_online))


def queue_position(conn: Connection, *, queued_at: datetime) -> int:
    """How many queued conversations were queued no later than `queued_at`."""
    return int(
        conn.execute(
            select(func.count()).where(
                _conversations.c.status == ConversationStatus.QUEUED.value,
                _conversations.c.queued_at <= queued_at,
            )
        ).scalar_one()
    )


def handoff_notice(
    conn: Connection, *, now: datetime, settings: AgentSettings, queued_at: datetime
) -> QueueNotice:
    """What to tell a customer whose conversation was just queued at `queued_at` (the
    conversation must already be stored as queued). With auto-assignment on, an online agent
    below capacity is chosen (the caller assigns)."""
    open_now = is_open(settings.business_hours, now)
    online = online_agent_ids(conn, now=now, settings=settings) if open_now else []
    if not online:
        return QueueNotice(None, 0, None, follow_up=True, open_now=open_now)
    if settings.auto_assign:
        agent = pick_agent(conn, now=now, settings=settings)
        if agent is not None:
            return QueueNotice(None, len(online), 0, False, True, assigned_to=agent)
    position = queue_position(conn, queued_at=queued_at)
    wait = expected_wait_seconds(conn, position=position, agents_online=len(online), now=now)
    return QueueNotice(position, len(online), wait, follow_up=False, open_now=True)
