"""Live events after a staff action's commit, published to the conversation's stream (the
customer), the owning agent's stream, the previous owner's, and the staff stream (queue).

Published only after the transaction committed, so a client never sees what was rolled back;
a client that missed an event catches up from storage with `?after=seq`.
"""

from __future__ import annotations

from app.agents.service import Change
from app.conversations.views import message_event
from app.realtime.broker import STAFF_CHANNEL, Broker, agent_channel, conversation_channel
from app.realtime.events import assignment_event, queue_event, status_event


async def publish_change(broker: Broker, change: Change) -> None:
    """Publish a staff action: the system message and new status to the customer, the
    conversation to its new owner, a notice to its previous owner, the queue to staff."""
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


async def publish_messages(broker: Broker, change: Change) -> None:
    """Publish only the messages of a change that moved no owner (an agent's reply)."""
    for message in change.messages:
        event = message_event(change.conversation_id, message)
        await broker.publish(conversation_channel(change.conversation_id), event)
        if change.agent is not None:
            await broker.publish(agent_channel(change.agent.id), event)
