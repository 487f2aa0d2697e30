"""Persistence of what staff do to a conversation: claim, reply, note, resolve, hand back,
transfer, release; the caller owns the transaction.

Every ownership change is ONE conditional UPDATE on the conversation row (`... WHERE status =
'queued'`, `... AND assigned_agent_id = :me`) that also takes the next sequence number for the
system message announcing it: exactly one of several racing agents matches the row, on SQLite
(writers serialised by `BEGIN IMMEDIATE`) and PostgreSQL (the row lock makes the losers re-check
the condition and match nothing). When nothing matched, `_refuse` says why (404, 403 or 409).
Each function returns a `Change`: what the caller publishes once the transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection

from app.agents.availability import AgentRef, pick_agent
from app.agents.models import Note
from app.auth.models import User
from app.auth.service import StaffUser
from app.config import AgentSettings
from app.conversations import service as conversation_service
from app.conversations.dialog import Dialog
from app.conversations.models import Author, Conversation, ConversationStatus, EventType
from app.conversations.service import StoredMessage
from app.db import utcnow
from app.errors import Conflict, ConversationNotFound, Forbidden, NotFound

_conversations = Conversation.__table__
_users = User.__table__
_notes = Note.__table__

QUEUED = ConversationStatus.QUEUED.value
ASSIGNED = ConversationStatus.ASSIGNED.value
RESOLVED = ConversationStatus.RESOLVED.value
BOT = ConversationStatus.BOT.value

CSAT_REQUEST_TEXT = (
    "This conversation is resolved. How would you rate the help you got, from 1 (poor) to 5 "
    "(excellent)?"
)


@dataclass(frozen=True)
class Change:
    """What a staff action stored, for the caller to publish after the commit."""

    conversation_id: str
    status: str
    messages: list[StoredMessage] = field(default_factory=list)
    agent: AgentRef | None = None  # who owns the conversation now
    previous_agent_id: int | None = None
    queue_action: str | None = None  # added | removed | updated, for the staff queue

    @property
    def last_seq(self) -> int:
        """The sequence number of the last message stored by the change."""
        return self.messages[-1].seq if self.messages else 0


def _announce(
    conn: Connection,
    *,
    conversation_id: str,
    message: StoredMessage,
    event: EventType,
    data: dict[str, Any],
) -> None:
    """Store the system message announcing a change, and the change's event (with the
    message's `seq`)."""
    conversation_service.insert_messages(conn, conversation_id=conversation_id, messages=[message])
    conversation_service.insert_event(
        conn, conversation_id=conversation_id, type=event, data={**data, "seq": message.seq}
    )


def _state(conn: Connection, conversation_id: str) -> Any:
    return conn.execute(
        select(
            _conversations.c.status,
            _conversations.c.assigned_agent_id,
            _users.c.name.label("agent_name"),
        )
        .select_from(
            _conversations.outerjoin(_users, _users.c.id == _conversations.c.assigned_agent_id)
        )
        .where(_conversations.c.id == conversation_id)
    ).first()


def _refuse(conn: Connection, conversation_id: str, staff: StaffUser, action: str) -> None:
    """Raise the error that says why `staff` may not `action` the conversation now."""
    state = _state(conn, conversation_id)
    if state is None:
        raise ConversationNotFound(conversation_id)
    if state.status == ASSIGNED and state.assigned_agent_id != staff.id:
        raise Forbidden(
            f"this conversation is assigned to {state.agent_name}; only they can {action} it"
            + ("" if staff.is_admin else " (or an admin)")
        )
    if state.status == QUEUED:
        raise Conflict(
            f"this conversation is waiting in the queue; claim it before you {action} it"
        )
    raise Conflict(f"this conversation is {state.status}; you cannot {action} it now")


def _lock_owner(conn: Connection, conversation_id: str) -> int | None:
    """The conversation's current owner, with the row locked for this transaction (PostgreSQL;
    SQLite writers are already serialised), so the UPDATE that follows sees the same owner."""
    return conn.execute(
        select(_conversations.c.assigned_agent_id)
        .where(_conversations.c.id == conversation_id)
        .with_for_update()
    ).scalar()


def _owned_by(staff: StaffUser, *, admin_overrides: bool) -> Any:
    """Condition: assigned to `staff` (or to anyone, for an admin when `admin_overrides`)."""
    mine = and_(_conversations.c.status == ASSIGNED, _conversations.c.assigned_agent_id == staff.id)
    if admin_overrides and staff.is_admin:
        return _conversations.c.status == ASSIGNED
    return mine


def _take_queued(conn: Connection, *, conversation_id: str, agent_id: int, now: datetime) -> Any:
    """THE conditional UPDATE of every assignment: the conversation goes to `agent_id` only if
    it is still queued, taking the seq of the join message; None when it was not queued."""
    return conn.execute(
        update(_conversations)
        .where(_conversations.c.id == conversation_id, _conversations.c.status == QUEUED)
        .values(
            status=ASSIGNED,
            assigned_agent_id=agent_id,
            assigned_at=now,
            updated_at=now,
            follow_up=False,
            last_seq=_conversations.c.last_seq + 1,
        )
        .returning(_conversations.c.last_seq, _conversations.c.queued_at)
    ).first()


def claim(conn: Connection, *, conversation_id: str, agent: StaffUser) -> Change:
    """Take a queued conversation: one conditional UPDATE, so exactly one claimant wins."""
    now = utcnow()
    row = _take_queued(conn, conversation_id=conversation_id, agent_id=agent.id, now=now)
    if row is None:
        state = _state(conn, conversation_id)
        if state is None:
            raise ConversationNotFound(conversation_id)
        if state.status == ASSIGNED and state.assigned_agent_id == agent.id:
            raise Conflict("you already own this conversation", owner=agent.name)
        if state.status == ASSIGNED:
            raise Conflict(
                f"{state.agent_name} claimed this conversation first", owner=state.agent_name
            )
        raise Conflict(
            f"this conversation is {state.status}, not queued; only queued conversations can "
            "be claimed"
        )
    return _assigned(
        conn,
        conversation_id=conversation_id,
        agent=AgentRef(agent.id, agent.name),
        seq=int(row.last_seq),
        queued_at=row.queued_at,
        now=now,
        how="claim",
    )


def _assigned(
    conn: Connection,
    *,
    conversation_id: str,
    agent: AgentRef,
    seq: int,
    queued_at: datetime | None,
    now: datetime,
    how: str,
) -> Change:
    """Store the join message and the assignment event of a conversation just assigned."""
    message = conversation_service.system_message(
        seq, f"{agent.name} joined the conversation.", "assigned", now, agent_name=agent.name
    )
    wait = (now - queued_at).total_seconds() if queued_at is not None else None
    _announce(
        conn,
        conversation_id=conversation_id,
        message=message,
        event=EventType.ASSIGNED,
        data={"agent_id": agent.id, "how": how, "wait_seconds": wait},
    )
    return Change(conversation_id, ASSIGNED, [message], agent=agent, queue_action="removed")


def assign_queued(conn: Connection, *, conversation_id: str, agent: AgentRef) -> Change:
    """Give a queued conversation to `agent` (auto-assignment); Conflict if it is no longer
    queued."""
    now = utcnow()
    row = _take_queued(conn, conversation_id=conversation_id, agent_id=agent.id, now=now)
    if row is None:
        raise Conflict("this conversation is no longer queued")
    return _assigned(
        conn,
        conversation_id=conversation_id,
        agent=agent,
        seq=int(row.last_seq),
        queued_at=row.queued_at,
        now=now,
        how="auto",
    )


def assign_waiting(conn: Connection, *, settings: AgentSettings, limit: int = 20) -> list[Change]:
    """With auto-assignment on, give the longest-waiting queued conversations to online agents
    below capacity (after an agent comes online or frees a slot)."""
    if not settings.auto_assign:
        return []
    changes: list[Change] = []
    waiting = conn.execute(
        select(_conversations.c.id)
        .where(_conversations.c.status == QUEUED)
        .order_by(_conversations.c.queued_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).scalars()
    for conversation_id in list(waiting):
        agent = pick_agent(conn, now=utcnow(), settings=settings)
        if agent is None:
            break
        try:
            changes.append(assign_queued(conn, conversation_id=conversation_id, agent=agent))
        except Conflict:
            continue  # claimed meanwhile (the UPDATE matched nothing, nothing was written)
    return changes


def add_agent_message(
    conn: Connection, *, conversation_id: str, agent: StaffUser, text: str, client_id: str | None
) -> Change:
    """Store a reply from the agent who owns the conversation."""
    now = utcnow()
    row = conn.execute(
        update(_conversations)
        .where(_conversations.c.id == conversation_id, _owned_by(agent, admin_overrides=False))
        .values(last_seq=_conversations.c.last_seq + 1, updated_at=now)
        .returning(_conversations.c.last_seq)
    ).first()
    if row is None:
        _refuse(conn, conversation_id, agent, "reply to")
    assert row is not None
    message = StoredMessage(
        seq=int(row.last_seq),
        author=Author.AGENT,
        text=text,
        created_at=now,
        client_id=client_id,
        meta={"agent_name": agent.name, "agent_id": agent.id},
    )
    _announce(
        conn,
        conversation_id=conversation_id,
        message=message,
        event=EventType.AGENT_MESSAGE,
        data={"agent_id": agent.id},
    )
    return Change(conversation_id, ASSIGNED, [message], agent=AgentRef(agent.id, agent.name))


def add_note(conn: Connection, *, conversation_id: str, author: StaffUser, text: str) -> Any:
    """Store an internal note (any staff member, any conversation); returns the stored row."""
    if _state(conn, conversation_id) is None:
        raise ConversationNotFound(conversation_id)
    return (
        conn.execute(
            insert(_notes)
            .values(
                conversation_id=conversation_id,
                author_id=author.id,
                text=text,
                created_at=utcnow(),
            )
            .returning(*_notes.c)
        )
        .mappings()
        .one()
    )


def list_notes(conn: Connection, *, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's notes, oldest first, with their authors' names."""
    rows = conn.execute(
        select(*_notes.c, _users.c.name.label("author_name"))
        .select_from(_notes.join(_users, _users.c.id == _notes.c.author_id))
        .where(_notes.c.conversation_id == conversation_id)
        .order_by(_notes.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def resolve(conn: Connection, *, conversation_id: str, staff: StaffUser) -> Change:
    """Close the conversation and ask the customer for a rating. Its owner (or an admin)
    resolves an assigned conversation; an admin may also close a queued one (e.g. spam, or
    after following up by email); agents claim first."""
    now = utcnow()
    closable = _owned_by(staff, admin_overrides=True)
    if staff.is_admin:
        closable = or_(_conversations.c.status == QUEUED, closable)
    row = conn.execute(
        update(_conversations)
        .where(_conversations.c.id == conversation_id, closable)
        .values(
            status=RESOLVED,
            resolved_at=now,
            updated_at=now,
            follow_up=False,
            resolutions=_conversations.c.resolutions + 1,
            last_seq=_conversations.c.last_seq + 1,
        )
        .returning(
            _conversations.c.last_seq,
            _conversations.c.resolutions,
            _conversations.c.assigned_agent_id,
            _conversations.c.assigned_at,
            _conversations.c.queued_at,
        )
    ).first()
    if row is None:
        _refuse(conn, conversation_id, staff, "resolve")
    assert row is not None
    message = conversation_service.system_message(
        int(row.last_seq), CSAT_REQUEST_TEXT, "csat_request", now, resolution=row.resolutions
    )
    _announce(
        conn,
        conversation_id=conversation_id,
        message=message,
        event=EventType.RESOLVED,
        data={
            "by": staff.id,
            "agent_id": row.assigned_agent_id,
            "resolution": row.resolutions,
            "handled_seconds": (now - row.assigned_at).total_seconds() if row.assigned_at else None,
            "since_handoff_seconds": (now - row.queued_at).total_seconds()
            if row.queued_at
            else None,
        },
    )
    return Change(
        conversation_id,
        RESOLVED,
        [message],
        previous_agent_id=row.assigned_agent_id,
        queue_action="removed",
    )


def handback(conn: Connection, *, conversation_id: str, staff: StaffUser) -> Change:
    """Give the conversation back to the bot with a clean slate (no misses, no sentiment
    history, no intent in progress): the bot answers the customer's next message and never
    re-reads the ones a person handled, so it cannot hand the same message off again."""
    now = utcnow()
    owner = _lock_owner(conn, conversation_id)
    row = conn.execute(
        update(_conversations)
        .where(_conversations.c.id == conversation_id, _owned_by(staff, admin_overrides=True))
        .values(
            status=BOT,
            assigned_agent_id=None,
            handoff_reason=None,
            follow_up=False,
            updated_at=now,
            last_seq=_conversations.c.last_seq + 1,
        )
        .returning(_conversations.c.last_seq, _conversations.c.dialog)
    ).first()
    if row is None:
        _refuse(conn, conversation_id, staff, "hand back")
    assert row is not None
    old = Dialog.from_json(row.dialog)
    fresh = Dialog(customer_turns=old.customer_turns, bot_turns=old.bot_turns)
    conversation_service.save_dialog(conn, conversation_id=conversation_id, dialog=fresh.to_json())
    message = conversation_service.system_message(
        int(row.last_seq),
        "You're back with our virtual assistant. Ask me anything else, or ask for a person "
        "at any time.",
        "handback",
        now,
    )
    _announce(
        conn,
        conversation_id=conversation_id,
        message=message,
        event=EventType.HANDBACK,
        data={"by": staff.id, "agent_id": owner},
    )
    return Change(conversation_id, BOT, [message], previous_agent_id=owner)


def transfer(
    conn: Connection, *, conversation_id: str, staff: StaffUser, to_agent_id: int
) -> Change:
    """Hand an assigned conversation to another active staff member."""
    target = conn.execute(
        select(_users.c.id, _users.c.name, _users.c.active).where(_users.c.id == to_agent_id)
    ).first()
    if target is None or not target.active:
        raise NotFound(f"no active agent has id {to_agent_id}")
    if target.id == staff.id:
        raise Conflict("you cannot transfer a conversation to yourself")
    now = utcnow()
    owner = _lock_owner(conn, conversation_id)
    row = conn.execute(
        update(_conversations)
        .where(
            _conversations.c.id == conversation_id,
            _owned_by(staff, admin_overrides=True),
            _conversations.c.assigned_agent_id != target.id,
        )
        .values(
            assigned_agent_id=target.id,
            assigned_at=now,
            updated_at=now,
            last_seq=_conversations.c.last_seq + 1,
        )
        .returning(_conversations.c.last_seq)
    ).first()
    if row is None:
        state = _state(conn, conversation_id)
        may_transfer = state is not None and (state.assigned_agent_id == staff.id or staff.is_admin)
        if may_transfer and state.status == ASSIGNED and state.assigned_agent_id == target.id:
            raise Conflict(f"this conversation is already assigned to {target.name}")
        _refuse(conn, conversation_id, staff, "transfer")
    assert row is not None
    message = conversation_service.system_message(
        int(row.last_seq),
        f"{target.name} is taking over the conversation.",
        "transfer",
        now,
        agent_name=target.name,
    )
    _announce(
        conn,
        conversation_id=conversation_id,
        message=message,
        event=EventType.TRANSFERRED,
        data={"by": staff.id, "from": owner, "to": target.id},
    )
    return Change(
        conversation_id,
        ASSIGNED,
        [message],
        agent=AgentRef(int(target.id), str(target.name)),
        previous_agent_id=owner,
    )


def release_agent(conn: Connection, *, user_id: int) -> list[Change]:
    """Put every conversation assigned to `user_id` back in the queue (they were deactivated
    or left), keeping each one's original place."""
    now = utcnow()
    rows = conn.execute(
        update(_conversations)
        .where(_conversations.c.assigned_agent_id == user_id, _conversations.c.status == ASSIGNED)
        .values(
            status=QUEUED,
            assigned_agent_id=None,
            updated_at=now,
            last_seq=_conversations.c.last_seq + 1,
        )
        .returning(_conversations.c.id, _conversations.c.last_seq)
    ).all()
    changes = []
    for conversation_id, seq in rows:
        message = conversation_service.system_message(
            int(seq),
            "Your agent had to step away; you're back in the queue and the next available "
            "person will pick up here.",
            "requeued",
            now,
        )
        _announce(
            conn,
            conversation_id=conversation_id,
            message=message,
            event=EventType.REQUEUED,
            data={"agent_id": user_id},
        )
        changes.append(
            Change(
                conversation_id,
                QUEUED,
                [message],
                previous_agent_id=user_id,
                queue_action="added",
            )
        )
    return changes
