"""The analytics queries: synchronous functions over a `Connection` (run them with
`Database.read`), on SQLite and PostgreSQL alike.

Everything is read from the `events` table (state changes), with `messages` (was there a
customer message? how many messages?) and `users` (agents' names): nothing is counted by hand.

- **The range** is a set of whole UTC days, `start` to `end` included. Conversations belong to
  the day of their `conversation.created` event; every other figure counts the events of its
  type that happened in the range (each is read through the `(type, created_at)` index).
- **Containment**: of the conversations started in the range that have at least one customer
  message (`engaged`), those never handed off (no `conversation.handoff` event, even after the
  range). The handoff rate is its complement.
- **First response**: from each `conversation.assigned` event to the first `agent.message`
  after it, as long as that agent still owned the conversation (no resolve, hand-back,
  transfer, re-queue or new assignment in between).
- **Resolution time**: the `handled_seconds` (since the assignment) and
  `since_handoff_seconds` of each `conversation.resolved` event.
- **CSAT**: the `csat.submitted` scores; the response rate divides them by the resolutions.
- **Intents**: the `intent` of each `bot.*` event, with how many of those conversations were
  never handed off.

Counts are grouped in the database; JSON fields are read with SQLAlchemy's JSON operators
(`json_extract` on SQLite, `->>` on PostgreSQL) inside a subquery, so each is bound once.
Medians and 90th percentiles are computed in Python from one row per assignment or resolution
in the range (three numbers each).
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    and_,
    case,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from app.analytics.schemas import (
    AgentStats,
    AnalyticsSummary,
    ConversationTotals,
    CsatStats,
    DayCount,
    Durations,
    FirstResponse,
    HandoffStats,
    IntentStats,
    ReasonCount,
    ResolutionTimes,
    ScoreCount,
)
from app.auth.models import User
from app.conversations.models import BOT_EVENTS, Author, Conversation, Event, EventType, Message
from app.db import utcnow
from app.errors import Unprocessable
from app.spreadsheet_cells import escape_formula

_events = Event.__table__
_messages = Message.__table__
_conversations = Conversation.__table__
_users = User.__table__

DEFAULT_DAYS = 30
MAX_DAYS = 366
TOP_INTENTS = 10
NO_EVENT_ID = 2**62  # above every event id: "no later event"
CSV_PAGE = 500  # conversations per CSV query (bounds memory and the IN lists)

CREATED = EventType.CREATED
HANDOFF = EventType.HANDOFF
ASSIGNED = EventType.ASSIGNED
TRANSFERRED = EventType.TRANSFERRED
RESOLVED = EventType.RESOLVED
AGENT_MESSAGE = EventType.AGENT_MESSAGE
CSAT = EventType.CSAT
# After an assignment, the first of these ends the wait for that agent's first reply.
OWNERSHIP_ENDS = (ASSIGNED, TRANSFERRED, EventType.HANDBACK, EventType.REQUEUED, RESOLVED)
CSV_EVENTS = (HANDOFF, AGENT_MESSAGE, CSAT, *OWNERSHIP_ENDS)
CSV_COLUMNS = (
    "id",
    "created_at",
    "status",
    "handed_off",
    "handoff_reason",
    "agent",
    "first_response_seconds",
    "resolution_seconds",
    "csat",
    "messages",
)


@dataclass(frozen=True)
class Window:
    """Whole UTC days from `start` to `end`, both included."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        """The first instant of the range."""
        return datetime.combine(self.start, time(), UTC)

    @property
    def until(self) -> datetime:
        """The first instant after the range."""
        return datetime.combine(self.end + timedelta(days=1), time(), UTC)

    @property
    def days(self) -> int:
        """How many days the range spans."""
        return (self.end - self.start).days + 1

    def each_day(self) -> list[date]:
        """Every day of the range, oldest first."""
        return [self.start + timedelta(days=i) for i in range(self.days)]


def window(start: date | None, end: date | None, *, today: date | None = None) -> Window:
    """The range asked for: `end` defaults to today (UTC) and `start` to `DEFAULT_DAYS` days
    ending there; 422 when `start` is after `end` or the range spans more than `MAX_DAYS`."""
    today = today or utcnow().date()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise Unprocessable(
            f"'from' ({start.isoformat()}) is after 'to' ({end.isoformat()}); "
            "give the earlier day first"
        )
    span = (end - start).days + 1
    if span > MAX_DAYS:
        raise Unprocessable(
            f"the range spans {span} days; ask for at most {MAX_DAYS} days at a time"
        )
    return Window(start, end)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q` quantile (0..1) of `values`, interpolating linearly between the closest ranks
    (PostgreSQL's `percentile_cont`); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def durations(values: Sequence[float]) -> Durations:
    """Count, median and 90th percentile of durations in seconds."""
    return Durations(
        count=len(values),
        median_seconds=_rounded(percentile(values, 0.5)),
        p90_seconds=_rounded(percentile(values, 0.9)),
    )


def first_response(values: Sequence[float], unanswered: int) -> FirstResponse:
    """First-response durations with the number of assignments never answered."""
    return FirstResponse(**durations(values).model_dump(), unanswered=unanswered)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _in_window(table: FromClause, w: Window) -> ColumnElement[bool]:
    return and_(table.c.created_at >= w.since, table.c.created_at < w.until)


def _day(conn: Connection, column: Any) -> ColumnElement[Any]:
    """The UTC day of a timestamp column, in SQL."""
    if conn.dialect.name == "postgresql":
        return cast(func.timezone(literal_column("'UTC'"), column), Date)
    # SQLite stores timestamps in UTC as 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return func.substr(column, 1, 10)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _engaged(conversation_id: Any) -> ColumnElement[bool]:
    """Whether the conversation has a customer message."""
    return exists().where(
        _messages.c.conversation_id == conversation_id,
        _messages.c.author == Author.CUSTOMER.value,
    )


def _handed_off(conversation_id: Any) -> ColumnElement[bool]:
    """Whether the conversation was ever handed off."""
    handoff = _events.alias("ever_handoff")
    return exists().where(handoff.c.conversation_id == conversation_id, handoff.c.type == HANDOFF)


# -- the summary ------------------------------------------------------------------------------


def per_day(conn: Connection, w: Window) -> list[DayCount]:
    """Conversations started each day of the range, engaged, and handed off."""
    created = _events.alias("created")
    engaged = _engaged(created.c.conversation_id)
    handed = _handed_off(created.c.conversation_id)
    inner = (
        select(
            _day(conn, created.c.created_at).label("day"),
            case((engaged, 1), else_=0).label("engaged"),
            case((and_(engaged, handed), 1), else_=0).label("handed"),
        )
        .where(created.c.type == CREATED, _in_window(created, w))
        .subquery()
    )
    rows = conn.execute(
        select(
            inner.c.day, func.count(), func.sum(inner.c.engaged), func.sum(inner.c.handed)
        ).group_by(inner.c.day)
    ).all()
    counts = {_as_date(day): (total, int(e or 0), int(h or 0)) for day, total, e, h in rows}
    return [
        DayCount(date=day, conversations=c[0], engaged=c[1], handed_off=c[2])
        for day in w.each_day()
        for c in [counts.get(day, (0, 0, 0))]
    ]


def totals(days: Iterable[DayCount]) -> ConversationTotals:
    """The range's conversation totals from its days."""
    days = list(days)
    total = sum(d.conversations for d in days)
    engaged = sum(d.engaged for d in days)
    handed = sum(d.handed_off for d in days)
    return ConversationTotals(
        total=total,
        engaged=engaged,
        contained=engaged - handed,
        handed_off=handed,
        containment_rate=_ratio(engaged - handed, engaged),
        handoff_rate=_ratio(handed, engaged),
    )


def handoffs(conn: Connection, w: Window) -> HandoffStats:
    """Handoffs in the range by reason, most frequent first."""
    inner = (
        select(_events.c.data["reason"].as_string().label("reason"))
        .where(_events.c.type == HANDOFF, _in_window(_events, w))
        .subquery()
    )
    rows = conn.execute(select(inner.c.reason, func.count()).group_by(inner.c.reason)).all()
    total = sum(count for _, count in rows)
    by_reason = sorted(
        (
            ReasonCount(reason=reason or "unknown", count=count, share=_ratio(count, total) or 0.0)
            for reason, count in rows
        ),
        key=lambda r: (-r.count, r.reason),
    )
    return HandoffStats(total=total, by_reason=by_reason)


def _csat_counts(conn: Connection, w: Window) -> list[tuple[int | None, int, int]]:
    """(agent id, score, count) of the ratings given in the range."""
    data = _events.c.data
    inner = (
        select(
            data["agent_id"].as_integer().label("agent_id"),
            data["score"].as_integer().label("score"),
        )
        .where(_events.c.type == CSAT, _in_window(_events, w))
        .subquery()
    )
    rows = conn.execute(
        select(inner.c.agent_id, inner.c.score, func.count()).group_by(
            inner.c.agent_id, inner.c.score
        )
    ).all()
    return [(agent, int(score), count) for agent, score, count in rows if score is not None]


def _resolutions(conn: Connection, w: Window) -> list[tuple[int | None, Any, Any]]:
    """(agent id, handled seconds, seconds since handoff) of each resolution in the range."""
    data = _events.c.data
    rows = conn.execute(
        select(
            data["agent_id"].as_integer(),
            data["handled_seconds"].as_float(),
            data["since_handoff_seconds"].as_float(),
        ).where(_events.c.type == RESOLVED, _in_window(_events, w))
    ).all()
    return [tuple(row) for row in rows]


def _assignments(conn: Connection, w: Window) -> list[tuple[int | None, float | None]]:
    """(agent id, seconds to the first reply or None) of each assignment in the range."""
    assigned = _events.alias("assigned")
    reply = _events.alias("reply")
    end = _events.alias("ownership_end")
    ownership_end = (
        select(func.min(end.c.id))
        .where(
            end.c.conversation_id == assigned.c.conversation_id,
            end.c.id > assigned.c.id,
            end.c.type.in_(OWNERSHIP_ENDS),
        )
        .correlate(assigned)  # two levels down: name it, auto-correlation stops at one
        .scalar_subquery()
    )
    first_reply = (
        select(func.min(reply.c.created_at))
        .where(
            reply.c.conversation_id == assigned.c.conversation_id,
            reply.c.type == AGENT_MESSAGE,
            reply.c.id > assigned.c.id,
            reply.c.id < func.coalesce(ownership_end, NO_EVENT_ID),
        )
        .scalar_subquery()
    )
    rows = conn.execute(
        select(
            assigned.c.data["agent_id"].as_integer(),
            assigned.c.created_at,
            first_reply,
        ).where(assigned.c.type == ASSIGNED, _in_window(assigned, w))
    ).all()
    return [
        (agent, (replied - at).total_seconds() if replied is not None else None)
        for agent, at, replied in rows
    ]


def intents(conn: Connection, w: Window, *, limit: int = TOP_INTENTS) -> list[IntentStats]:
    """The intents of the bot's replies in the range (replies from the knowledge base, and
    handoffs outside an intent, have none), most conversations first, with how many of their
    conversations were never handed off."""
    bot = (
        select(
            _events.c.data["intent"].as_string().label("intent"),
            _events.c.conversation_id,
        )
        .where(_events.c.type.in_(BOT_EVENTS), _in_window(_events, w))
        .subquery("bot")
    )
    per_conversation = (
        select(bot.c.intent, bot.c.conversation_id, func.count().label("turns"))
        .where(bot.c.intent.is_not(None))
        .group_by(bot.c.intent, bot.c.conversation_id)
        .subquery("per_conversation")
    )
    conversations = func.count().label("conversations")
    rows = conn.execute(
        select(
            per_conversation.c.intent,
            func.sum(per_conversation.c.turns),
            conversations,
            func.sum(case((~_handed_off(per_conversation.c.conversation_id), 1), else_=0)),
        )
        .group_by(per_conversation.c.intent)
        .order_by(conversations.desc(), per_conversation.c.intent)
        .limit(limit)
    ).all()
    return [
        IntentStats(
            intent=intent,
            turns=int(turns),
            conversations=count,
            contained=int(contained or 0),
            containment_rate=_ratio(int(contained or 0), count),
        )
        for intent, turns, count, contained in rows
    ]


def agent_names(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
    """Staff names by id (ids of deleted accounts are missing)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(select(_users.c.id, _users.c.name).where(_users.c.id.in_(wanted)))
    return {int(user_id): name for user_id, name in rows}


@dataclass
class _AgentFacts:
    replies: list[float] = field(default_factory=list)
    unanswered: int = 0
    handled: list[float] = field(default_factory=list)
    resolutions: int = 0
    scores: dict[int, int] = field(default_factory=dict)


def summary(conn: Connection, *, w: Window) -> AnalyticsSummary:
    """Every figure of the dashboard for the range."""
    days = per_day(conn, w)
    assignments = _assignments(conn, w)
    resolutions = _resolutions(conn, w)
    ratings = _csat_counts(conn, w)

    agents: dict[int, _AgentFacts] = defaultdict(_AgentFacts)
    replies: list[float] = []
    for agent, seconds in assignments:
        facts = agents[agent] if agent is not None else _AgentFacts()
        if seconds is None:
            facts.unanswered += 1
        else:
            facts.replies.append(seconds)
            replies.append(seconds)
    handled: list[float] = []
    since_handoff: list[float] = []
    for agent, handled_seconds, since in resolutions:
        if handled_seconds is not None:
            handled.append(float(handled_seconds))
        if since is not None:
            since_handoff.append(float(since))
        if agent is not None:
            agents[agent].resolutions += 1
            if handled_seconds is not None:
                agents[agent].handled.append(float(handled_seconds))
    scores: dict[int, int] = defaultdict(int)
    for agent, score, count in ratings:
        scores[score] += count
        if agent is not None:
            agents[agent].scores[score] = agents[agent].scores.get(score, 0) + count

    rated = sum(scores.values())
    names = agent_names(conn, agents)
    agent_rows = []
    for agent_id, facts in agents.items():
        count = sum(facts.scores.values())
        agent_rows.append(
            AgentStats(
                agent_id=agent_id,
                name=names.get(agent_id, f"(deleted account {agent_id})"),
                assignments=len(facts.replies) + facts.unanswered,
                first_response=first_response(facts.replies, facts.unanswered),
                resolutions=facts.resolutions,
                resolution=durations(facts.handled),
                csat_count=count,
                csat_average=_average(facts.scores),
            )
        )
    agent_rows.sort(key=lambda a: (a.name.casefold(), a.agent_id))
    return AnalyticsSummary(
        start=w.start,
        end=w.end,
        days=w.days,
        generated_at=utcnow(),
        conversations=totals(days),
        per_day=days,
        handoffs=handoffs(conn, w),
        csat=CsatStats(
            count=rated,
            average=_average(scores),
            resolutions=len(resolutions),
            response_rate=_ratio(rated, len(resolutions)),
            distribution=[ScoreCount(score=s, count=scores.get(s, 0)) for s in range(1, 6)],
        ),
        first_response=first_response(
            replies, sum(1 for _, seconds in assignments if seconds is None)
        ),
        resolution=ResolutionTimes(
            handled=durations(handled), since_handoff=durations(since_handoff)
        ),
        agents=agent_rows,
        intents=intents(conn, w),
    )


def _average(scores: dict[int, int]) -> float | None:
    count = sum(scores.values())
    return round(sum(s * c for s, c in scores.items()) / count, 3) if count else None


# -- the CSV ----------------------------------------------------------------------------------

Cursor = tuple[datetime, int]


@dataclass
class _Row:
    """What one conversation's events say (see `csv_page`)."""

    handed_off: bool = False
    handoff_reason: str | None = None
    owner: int | None = None
    first_response: float | None = None
    resolution: float | None = None
    csat: int | None = None
    _assigned_at: datetime | None = None  # the assignment still waiting for its first reply

    def see(self, kind: str, at: datetime, event: Any) -> None:
        """Take one event into account (events in order)."""
        if kind == HANDOFF:
            self.handed_off = True
            self.handoff_reason = self.handoff_reason or event.reason
        elif kind == AGENT_MESSAGE:
            if self._assigned_at is not None and self.first_response is None:
                self.first_response = (at - self._assigned_at).total_seconds()
            self._assigned_at = None
        elif kind == CSAT:
            self.csat = event.score
        elif kind in OWNERSHIP_ENDS:
            self._assigned_at = None
            if kind == ASSIGNED:
                self.owner = event.agent_id
                self._assigned_at = at
            elif kind == TRANSFERRED:
                self.owner = event.to_agent
            elif kind == RESOLVED:
                self.resolution = event.handled


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    text = str(value)
    return escape_formula(text)


def csv_header() -> str:
    """The CSV's first line."""
    return _csv_lines([list(CSV_COLUMNS)])


def _csv_lines(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue()


def csv_page(
    conn: Connection, *, w: Window, after: Cursor | None = None, limit: int | None = None
) -> tuple[str, Cursor | None]:
    """Up to `limit` CSV lines of the conversations started in the range, oldest first, after
    the `after` cursor; returns them with the next page's cursor (None after the last).

    Columns: id; created_at; status (now); handed_off (ever); handoff_reason (of the first
    handoff); agent (the last to own it); first_response_seconds (from the first assignment an
    agent answered to that reply, the summary's measure); resolution_seconds (the latest
    resolve, since the assignment); csat (the latest rating); messages (customer, bot and
    agent messages, not system notices). `limit` defaults to `CSV_PAGE`."""
    limit = limit or CSV_PAGE
    created = _events.alias("created")
    query = (
        select(created.c.id, created.c.created_at, _conversations.c.id, _conversations.c.status)
        .select_from(created.join(_conversations, _conversations.c.id == created.c.conversation_id))
        .where(created.c.type == CREATED, _in_window(created, w))
        .order_by(created.c.created_at, created.c.id)
        .limit(limit)
    )
    if after is not None:
        at, event_id = after
        query = query.where(
            created.c.created_at >= at,
            or_(created.c.created_at > at, created.c.id > event_id),
        )
    page = conn.execute(query).all()
    if not page:
        return "", None
    ids = [row[2] for row in page]
    data = _events.c.data
    events = conn.execute(
        select(
            _events.c.conversation_id,
            _events.c.type,
            _events.c.created_at,
            data["reason"].as_string().label("reason"),
            data["agent_id"].as_integer().label("agent_id"),
            data["to"].as_integer().label("to_agent"),
            data["handled_seconds"].as_float().label("handled"),
            data["score"].as_integer().label("score"),
        )
        .where(_events.c.conversation_id.in_(ids), _events.c.type.in_(CSV_EVENTS))
        .order_by(_events.c.conversation_id, _events.c.id)
    ).all()
    facts: dict[str, _Row] = defaultdict(_Row)
    for event in events:
        facts[event.conversation_id].see(event.type, event.created_at, event)
    counts: dict[str, int] = dict(
        conn.execute(
            select(_messages.c.conversation_id, func.count())
            .where(
                _messages.c.conversation_id.in_(ids),
                _messages.c.author != Author.SYSTEM.value,
            )
            .group_by(_messages.c.conversation_id)
        ).all()
    )
    names = agent_names(conn, (f.owner for f in facts.values() if f.owner is not None))
    lines = []
    for _, created_at, conversation_id, status in page:
        row = facts[conversation_id]
        owner = row.owner
        lines.append(
            [
                conversation_id,
                created_at,
                status,
                row.handed_off,
                row.handoff_reason,
                None if owner is None else names.get(owner, f"(deleted account {owner})"),
                row.first_response,
                row.resolution,
                row.csat,
                counts.get(conversation_id, 0),
            ]
        )
    cursor = (page[-1][1], page[-1][0]) if len(page) == limit else None
    return _csv_lines(lines), cursor
