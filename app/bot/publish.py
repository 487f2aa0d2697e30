"""Live events of a customer turn, published after its commit: its messages to the
conversation's stream (the customer) and to the agent who owns it, a status event when the turn
handed off or reopened the conversation, a queue event for staff.

Published only after the transaction committed, so a client never sees what was rolled back;
a client that missed an event catches up from storage with `?after=seq`.
"""

from __future__ import annotations

from app.bot.store import StoredTurn
from app.conversations.models import ConversationStatus
from app.conversations.views import message_event
from app.realtime.broker import STAFF_CHANNEL, Broker, agent_channel, conversation_channel
from app.realtime.events import assignment_event, queue_event, status_event


async def publish_turn(broker: Broker, *, conversation_id: str, stored: StoredTurn) -> None:
    """Publish a customer turn: its messages to the conversation (and to the agent who owns
    it), a status event when the turn handed off, a queue event for staff."""
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
