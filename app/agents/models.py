"""Tables of the agents' side of a conversation: internal notes and canned responses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, utcnow


class Note(Base):
    """An internal note on a conversation: staff see it, the customer never does."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CannedResponse(Base):
    """A reply agents insert by its shortcut; admins manage them."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    shortcut: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
