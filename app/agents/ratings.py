"""Customer satisfaction: one rating (1..5, with an optional comment) per resolution."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.agents.models import CsatRating
from app.conversations import service as conversation_service
from app.conversations.models import Conversation, ConversationStatus
from app.db import utcnow
from app.errors import Conflict, NotFound

_conversations = Conversation.__table__
_ratings = CsatRating.__table__


def rate(
    conn: Connection, *, conversation_id: str, score: int, comment: str | None
) -> dict[str, Any]:
    """Store the rating of the conversation's latest resolution (409 if it is not resolved or
    that resolution was already rated)."""
    row = conn.execute(
        select(
            _conversations.c.status,
            _conversations.c.resolutions,
            _conversations.c.assigned_agent_id,
        ).where(_conversations.c.id == conversation_id)
    ).first()
    if row is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    if row.status != ConversationStatus.RESOLVED or row.resolutions == 0:
        raise Conflict(
            "this conversation is not resolved; a rating is asked for once it is resolved"
        )
    values = {
        "conversation_id": conversation_id,
        "resolution": row.resolutions,
        "score": score,
        "comment": comment,
        "agent_id": row.assigned_agent_id,
        "created_at": utcnow(),
    }
    try:
        with conn.begin_nested():
            conn.execute(insert(_ratings).values(**values))
    except IntegrityError as exc:
        raise Conflict("this resolution was already rated; thank you") from exc
    conversation_service.insert_event(
        conn,
        conversation_id=conversation_id,
        type="csat.submitted",
        data={"score": score, "resolution": row.resolutions, "agent_id": row.assigned_agent_id},
    )
    return values
