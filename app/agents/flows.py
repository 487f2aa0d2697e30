"""Staff actions across domains: store in one transaction, then publish the live events, then
(with auto-assignment on) hand waiting conversations to whoever just freed a slot.

Routers call these; persistence lives in `app/agents/service.py`, events in `notify.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.agents import service as agents_service
from app.agents.notify import publish_change, publish_messages
from app.agents.service import Change
from app.auth.service import StaffUser
from app.config import AgentSettings
from app.conversations.idempotency import ClientPost
from app.conversations.models import Author
from app.conversations.service import StoredMessage
from app.db import Database
from app.errors import AppError
from app.realtime.broker import Broker

log = logging.getLogger(__name__)


class StaffActions:
    """What staff do to conversations, each stored then published."""

    def __init__(self, *, db: Database, broker: Broker, settings: AgentSettings) -> None:
        self._db = db
        self._broker = broker
        self._settings = settings

    async def _apply(self, fn: Callable[..., Change], **kwargs: Any) -> Change:
        change = await self._db.run(fn, **kwargs)
        await publish_change(self._broker, change)
        return change

    async def assign_waiting(self) -> list[Change]:
        """With auto-assignment on, give waiting conversations to online agents with room.

        Runs after another action committed (a resolve, a hand-back, an agent coming online):
        if it fails, that action still stands and the conversations simply stay queued for a
        claim, so the failure is logged rather than turned into the action's error."""
        if not self._settings.auto_assign:
            return []
        try:
            changes = await self._db.run(agents_service.assign_waiting, settings=self._settings)
        except (AppError, SQLAlchemyError):
            log.warning("auto-assignment failed; the conversations stay queued", exc_info=True)
            return []
        for change in changes:
            await publish_change(self._broker, change)
        return changes

    async def claim(self, *, conversation_id: str, agent: StaffUser) -> Change:
        """Claim a queued conversation (exactly one of several racing agents wins)."""
        return await self._apply(agents_service.claim, conversation_id=conversation_id, agent=agent)

    async def resolve(self, *, conversation_id: str, staff: StaffUser) -> Change:
        """Resolve, ask the customer for a rating, and fill the freed slot."""
        change = await self._apply(
            agents_service.resolve, conversation_id=conversation_id, staff=staff
        )
        await self.assign_waiting()
        return change

    async def handback(self, *, conversation_id: str, staff: StaffUser) -> Change:
        """Give the conversation back to the bot, and fill the freed slot."""
        change = await self._apply(
            agents_service.handback, conversation_id=conversation_id, staff=staff
        )
        await self.assign_waiting()
        return change

    async def transfer(self, *, conversation_id: str, staff: StaffUser, to_agent_id: int) -> Change:
        """Hand the conversation to another agent."""
        change = await self._apply(
            agents_service.transfer,
            conversation_id=conversation_id,
            staff=staff,
            to_agent_id=to_agent_id,
        )
        await self.assign_waiting()
        return change

    async def release_agent(self, *, user_id: int) -> list[Change]:
        """Put a deactivated (or departed) agent's conversations back in the queue."""
        changes = await self._db.run(agents_service.release_agent, user_id=user_id)
        for change in changes:
            await publish_change(self._broker, change)
        await self.assign_waiting()
        return changes

    async def send_message(
        self, *, conversation_id: str, agent: StaffUser, text: str, client_id: str | None
    ) -> tuple[StoredMessage, bool]:
        """Store and publish the owning agent's reply; a retried `client_id` returns the
        stored message (second value True) instead of storing it twice, even after the
        conversation was resolved or transferred meanwhile."""
        post = ClientPost(
            self._db,
            conversation_id=conversation_id,
            author=Author.AGENT,
            client_id=client_id,
            text=text,
            same_sender=lambda stored: (stored.meta or {}).get("agent_id") == agent.id,
        )
        found = await post.stored()
        if found is not None:
            return found[0], True
        try:
            change = await self._db.run(
                agents_service.add_agent_message,
                conversation_id=conversation_id,
                agent=agent,
                text=text,
                client_id=client_id,
            )
        except IntegrityError as exc:
            return (await post.twin(exc))[0], True  # a concurrent twin stored it first
        await publish_messages(self._broker, change)
        return change.messages[0], False
