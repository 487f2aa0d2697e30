"""Staff actions across domains: store in one transaction, then publish the live events, then
(with auto-assignment on) hand waiting conversations to whoever just freed a slot.

Routers call these; persistence lives in `app/agents/service.py`, events in `notify.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.agents import service as agents_service
from app.agents.notify import publish_change, publish_messages
from app.agents.service import Change
from app.auth.service import StaffUser
from app.conversations import service as conversation_service
from app.conversations.models import Author
from app.conversations.service import StoredMessage
from app.errors import AppError, Conflict
from app.runtime import Runtime

log = logging.getLogger(__name__)


async def _apply(runtime: Runtime, fn: Callable[..., Change], **kwargs: Any) -> Change:
    change = await runtime.db.run(fn, **kwargs)
    await publish_change(runtime, change)
    return change


async def assign_waiting(runtime: Runtime) -> list[Change]:
    """With auto-assignment on, give waiting conversations to online agents with room.

    Runs after another action committed (a resolve, a hand-back, an agent coming online):
    if it fails, that action still stands and the conversations simply stay queued for a
    claim, so the failure is logged rather than turned into the action's error."""
    if not runtime.settings.agents.auto_assign:
        return []
    try:
        changes = await runtime.db.run(
            agents_service.assign_waiting, settings=runtime.settings.agents
        )
    except (AppError, SQLAlchemyError):
        log.warning("auto-assignment failed; the conversations stay queued", exc_info=True)
        return []
    for change in changes:
        await publish_change(runtime, change)
    return changes


async def claim(runtime: Runtime, *, conversation_id: str, agent: StaffUser) -> Change:
    """Claim a queued conversation (exactly one of several racing agents wins)."""
    return await _apply(runtime, agents_service.claim, conversation_id=conversation_id, agent=agent)


async def resolve(runtime: Runtime, *, conversation_id: str, staff: StaffUser) -> Change:
    """Resolve, ask the customer for a rating, and fill the freed slot."""
    change = await _apply(
        runtime, agents_service.resolve, conversation_id=conversation_id, staff=staff
    )
    await assign_waiting(runtime)
    return change


async def handback(runtime: Runtime, *, conversation_id: str, staff: StaffUser) -> Change:
    """Give the conversation back to the bot, and fill the freed slot."""
    change = await _apply(
        runtime, agents_service.handback, conversation_id=conversation_id, staff=staff
    )
    await assign_waiting(runtime)
    return change


async def transfer(
    runtime: Runtime, *, conversation_id: str, staff: StaffUser, to_agent_id: int
) -> Change:
    """Hand the conversation to another agent."""
    change = await _apply(
        runtime,
        agents_service.transfer,
        conversation_id=conversation_id,
        staff=staff,
        to_agent_id=to_agent_id,
    )
    await assign_waiting(runtime)
    return change


async def release_agent(runtime: Runtime, *, user_id: int) -> list[Change]:
    """Put a deactivated (or departed) agent's conversations back in the queue."""
    changes = await runtime.db.run(agents_service.release_agent, user_id=user_id)
    for change in changes:
        await publish_change(runtime, change)
    await assign_waiting(runtime)
    return changes


def _find_agent_post(
    conn: Connection, *, conversation_id: str, client_id: str
) -> StoredMessage | None:
    found = conversation_service.find_client_post(
        conn, conversation_id=conversation_id, client_id=client_id, author=Author.AGENT
    )
    return found[0] if found else None


def _same_post(stored: StoredMessage, *, agent: StaffUser, text: str, client_id: str) -> bool:
    """Whether `stored` is this agent's earlier post of `text` (else the id is reused: 409)."""
    if (stored.meta or {}).get("agent_id") == agent.id and stored.text == text:
        return True
    raise Conflict(
        f"client_id {client_id!r} was already used for a different message; use a new "
        "client_id for a new message"
    )


async def send_message(
    runtime: Runtime,
    *,
    conversation_id: str,
    agent: StaffUser,
    text: str,
    client_id: str | None,
) -> tuple[StoredMessage, bool]:
    """Store and publish the owning agent's reply; a retried `client_id` returns the stored
    message (second value True) instead of storing it twice, even after the conversation was
    resolved or transferred meanwhile."""
    find = partial(
        runtime.db.read, _find_agent_post, conversation_id=conversation_id, client_id=client_id
    )
    if client_id is not None:
        stored = await find()
        if stored is not None and _same_post(stored, agent=agent, text=text, client_id=client_id):
            return stored, True
    try:
        change = await runtime.db.run(
            agents_service.add_agent_message,
            conversation_id=conversation_id,
            agent=agent,
            text=text,
            client_id=client_id,
        )
    except IntegrityError as exc:
        if client_id is None or not conversation_service.is_duplicate_client_id(exc):
            raise
        stored = await find()  # a concurrent twin stored it first
        if stored is None:
            raise Conflict("a concurrent post with this client_id failed; retry it") from exc
        _same_post(stored, agent=agent, text=text, client_id=client_id)
        return stored, True
    await publish_messages(runtime, change)
    return change.messages[0], False
