"""Live events after a commit: what a turn or a staff action changed, published to the
conversation's stream (the customer), the owning agent's stream and the staff stream (queue).

Published only after the transaction committed, so a client never sees what was rolled back;
a client that missed an event catches up from storage with `?after=seq`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.agents.service import Change
from app.conversations.models import ConversationStatus
from app.realtime.broker import STAFF_CHANNEL, agent_channel, conversation_channel
from app.realtime.events import assignment_event, message_event, queue_event, status_event

if TYPE_CHECKING:
    from app.conversations.turn import StoredTurn
    from app.runtime import Runtime


async def publish_turn(runtime: Runtime, *, conversation_id: str, stored: StoredTurn) -> None:
    """Publish a customer turn: its messages to the conversation (and to the agent who owns
    it), a status event when the turn handed off, a queue event for staff."""
    broker = runtime.broker
    messages = stored.messages
    events = [message_event(conversation_id, m) for m in messages]
    last = messages[-1].seq
    channel = conversation_channel(conversation_id)
    for event in events:
        await broker.publish(channel, event)
    if stored.handed_off or stored.reopened:
        await broker.publish(
            channel, status_event(conversation_id, last, stored.status, stored.agent_name)
        )
    if stored.agent_id is not None and stored.status == ConversationStatus.ASSIGNED:
        if stored.handed_off:
            await broker.publish(
                agent_channel(stored.agent_id),
                assignment_event("assigned", conversation_id, last, stored.status),
            )
        for event in events:
            await broker.publish(agent_channel(stored.agent_id), event)
    if stored.queue_action is not None:
        await broker.publish(
            STAFF_CHANNEL, queue_event(conversation_id, stored.queue_action, last, stored.status)
        )


async def publish_change(runtime: Runtime, change: Change) -> None:
    """Publish a staff action: the system message and new status to the customer, the
    conversation to its new owner, a notice to its previous owner, the queue to staff."""
    broker = runtime.broker
    cid = change.conversation_id
    events = [message_event(cid, m) for m in change.messages]
    channel = conversation_channel(cid)
    for event in events:
        await broker.publish(channel, event)
    agent_name = change.agent.name if change.agent else None
    await broker.publish(channel, status_event(cid, change.last_seq, change.status, agent_name))
    if change.agent is not None:
        owner = agent_channel(change.agent.id)
        if change.agent.id != change.previous_agent_id:
            await broker.publish(
                owner,
                assignment_event("assigned", cid, change.last_seq, change.status),
            )
        for event in events:
            await broker.publish(owner, event)
    if change.previous_agent_id is not None and (
        change.agent is None or change.agent.id != change.previous_agent_id
    ):
        await broker.publish(
            agent_channel(change.previous_agent_id),
            assignment_event("unassigned", cid, change.last_seq, change.status),
        )
    if change.queue_action is not None:
        await broker.publish(
            STAFF_CHANNEL, queue_event(cid, change.queue_action, change.last_seq, change.status)
        )


async def publish_messages(runtime: Runtime, change: Change) -> None:
    """Publish only the messages of a change that moved no owner (an agent's reply)."""
    for message in change.messages:
        event = message_event(change.conversation_id, message)
        await runtime.broker.publish(conversation_channel(change.conversation_id), event)
        if change.agent is not None:
            await runtime.broker.publish(agent_channel(change.agent.id), event)
