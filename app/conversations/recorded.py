"""The bot turns stored with the policy's inputs, loaded for `python -m app replay`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.conversations.models import Author, Message
from app.policy.inputs import signals_from, state_from
from app.policy.replay import RecordedTurn


def load_turns(conn: Connection, *, since: datetime) -> list[RecordedTurn]:
    """Bot replies stored since `since` that carry the policy's inputs, oldest first."""
    rows = conn.execute(
        select(Message.conversation_id, Message.seq, Message.meta)
        .where(Message.author == Author.BOT, Message.created_at >= since)
        .order_by(Message.created_at, Message.seq)
    )
    turns = []
    for conversation_id, seq, meta in rows:
        stored = (meta or {}).get("policy_input")
        if not stored:
            continue
        action = (meta or {}).get("action")
        turns.append(
            RecordedTurn(
                conversation_id=conversation_id,
                seq=seq,
                signals=signals_from(stored["signals"]),
                state=state_from(stored["state"]),
                action_ok=action.get("ok") if action else None,
                action_unknown=bool(action and action.get("outcome") == "unknown"),
            )
        )
    return turns
