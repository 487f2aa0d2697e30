"""The customer's contact email: found in what they write, or left through the widget, for a
follow-up when nobody could reply live."""

from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import update
from sqlalchemy.engine import Connection

from app.conversations import service as conversation_service
from app.conversations.models import Conversation, EventType
from app.conversations.views import customer_view
from app.db import utcnow
from app.errors import ConversationNotFound

_conversations = Conversation.__table__

EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def find_email(text: str) -> str | None:
    """The first valid email address written in `text`, normalised, if any."""
    for candidate in EMAIL_IN_TEXT.findall(text):
        try:
            return validate_email(candidate, check_deliverability=False).normalized
        except EmailNotValidError:
            continue
    return None


def set_contact_email(conn: Connection, *, conversation_id: str, email: str) -> None:
    """Store the customer's email for a follow-up."""
    result = conn.execute(
        update(_conversations)
        .where(_conversations.c.id == conversation_id)
        .values(contact_email=email, updated_at=utcnow())
    )
    if result.rowcount == 0:
        raise ConversationNotFound(conversation_id)
    conversation_service.insert_event(
        conn, conversation_id=conversation_id, type=EventType.CONTACT, data={}
    )


def save_contact_email(conn: Connection, *, conversation_id: str, email: str) -> dict[str, Any]:
    """Store the email the customer left and return their view of the conversation."""
    set_contact_email(conn, conversation_id=conversation_id, email=email)
    return customer_view(conn, conversation_id=conversation_id)
