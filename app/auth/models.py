"""Tables of staff accounts and their bearer tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, utcnow


class Role(enum.StrEnum):
    """What a staff member may do: agents work conversations; admins also manage the service."""

    ADMIN = "admin"
    AGENT = "agent"


class Presence(enum.StrEnum):
    """The availability an agent chose; `online` counts only while they are connected."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class User(Base):
    """A staff member (agent or admin). Emails are stored lower-cased. `totp_secret` is set
    from enrolment on; the second factor is on once `totp_enabled_at` is set, and
    `totp_last_step` is the time step of the last code accepted (app/auth/totp.py)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    presence: Mapped[str] = mapped_column(String(16), default=Presence.OFFLINE)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(default=None)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffToken(Base):
    """A staff bearer token, stored as its SHA-256 digest, valid until it expires or is revoked."""

    __tablename__ = "staff_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
