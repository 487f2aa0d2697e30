"""Customer satisfaction: one rating (1..5, with an optional comment) per resolution, given
through the API (the widget's form) or typed in the chat as a bare number after the request."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.conversations import service as conversation_service
from app.conversations.models import Conversation, CsatRating, Event, EventType
from app.db import utcnow
from app.errors import Conflict, ConversationNotFound

_conversations = Conversation.__table__
_ratings = CsatRating.__table__
_events = Event.__table__

# A message that is only a rating: "5", "4/5", "3 stars", "5 out of 5!".
RATING_IN_TEXT = re.compile(r"^\s*([1-5])\s*(?:/\s*5|out of 5|stars?)?\s*[.!]*\s*$", re.I)


def rating_in_text(text: str) -> int | None:
    """The score of a message that is only a rating, else None."""
    match = RATING_IN_TEXT.match(text)
    return int(match.group(1)) if match else None


def rate(
    conn: Connection,
    *,
    conversation_id: str,
    score: int,
    comment: str | None,
    via: str = "api",
) -> dict[str, Any]:
    """Store the rating of the conversation's latest resolution, even if the customer wrote
    again since (409 if it was never resolved, or that resolution was already rated). The
    rating is credited to the agent who had the conversation when it was resolved."""
    resolutions = conn.execute(
        select(_conversations.c.resolutions).where(_conversations.c.id == conversation_id)
    ).scalar()
    if resolutions is None:
        raise ConversationNotFound(conversation_id)
    if resolutions == 0:
        raise Conflict(
            "nothing to rate yet: a rating is asked for once the conversation is resolved"
        )
    resolved = conn.execute(
        select(_events.c.data)
        .where(
            _events.c.conversation_id == conversation_id,
            _events.c.type == EventType.RESOLVED,
        )
        .order_by(_events.c.id.desc())
        .limit(1)
    ).scalar()
    values = {
        "conversation_id": conversation_id,
        "resolution": resolutions,
        "score": score,
        "comment": comment,
        "agent_id": (resolved or {}).get("agent_id"),
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
        type=EventType.CSAT,
        data={
            "score": score,
            "resolution": resolutions,
            "agent_id": values["agent_id"],
            "via": via,
        },
    )
    return values
