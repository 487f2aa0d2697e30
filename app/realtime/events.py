"""The shapes of live events, built in one place so publishers and streams agree (a stored
message's event is `app.conversations.views.message_event`: it carries the customer's view).

Every event is a JSON object with a `type`; those about a conversation also carry its
`conversation_id` and the conversation `seq` they correspond to.
"""

from __future__ import annotations

from app.realtime.broker import Event


def status_event(conversation_id: str, seq: int, status: str, agent_name: str | None) -> Event:
    """A change of owner as a live event (the customer sees the agent's display name)."""
    return {
        "type": "status",
        "conversation_id": conversation_id,
        "seq": seq,
        "status": status,
        "agent": {"name": agent_name} if agent_name else None,
    }


def queue_event(conversation_id: str, action: str, seq: int, status: str) -> Event:
    """A change to the queue, for every staff member's stream."""
    return {
        "type": "queue",
        "action": action,
        "conversation_id": conversation_id,
        "seq": seq,
        "status": status,
    }


def assignment_event(kind: str, conversation_id: str, seq: int, status: str) -> Event:
    """A conversation was given to (`assigned`) or taken from (`unassigned`) an agent (their
    own channel)."""
    return {"type": kind, "conversation_id": conversation_id, "seq": seq, "status": status}


def presence_event(*, id: int, name: str, presence: str, online: bool) -> Event:
    """A staff member's availability changed (staff channel)."""
    return {
        "type": "presence",
        "agent": {"id": id, "name": name, "presence": presence, "online": online},
    }


def ready_event(seq: int) -> Event:
    """The stream replayed everything up to `seq`; live events follow."""
    return {"type": "ready", "seq": seq}


def error_event(message: str) -> Event:
    """A client frame the stream could not use (the stream stays open)."""
    return {"type": "error", "message": message}


PONG: Event = {"type": "pong"}


def revocation_event(*, user_id: int, token_digest: str | None, reason: str) -> Event:
    """Staff tokens stopped working (on the user's own channel): the one whose SHA-256 digest
    is `token_digest`, or every token of the user when it is None. Streams holding one close
    with 4401 and `reason`; the event itself is never forwarded to a client."""
    return {"type": "revoked", "user_id": user_id, "token": token_digest, "reason": reason}
