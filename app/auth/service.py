"""Staff accounts and their bearer tokens; the caller owns the transaction.

Every function takes a synchronous `Connection` and is run by `Database.run` / `Database.read`.
Emails are stored lower-cased and stripped, so sign-in ignores case. Tokens are random secrets
stored as SHA-256 digests (`app.security`); a token opens nothing once it expired, was revoked,
or its user was deactivated. Password hashes never leave this module except through
`find_credentials`, which the login route needs; second-factor secrets never leave
app/auth/totp.py except once, at enrolment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from app.auth import passwords
from app.auth.models import Presence, Role, StaffToken, User
from app.db import utcnow
from app.errors import Conflict, UserNotFound
from app.security import hash_token, new_token

_users = User.__table__
_tokens = StaffToken.__table__

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
EMAIL_MAX_LENGTH = 254


def normalize_email(email: str) -> str:
    """`email` stripped and lower-cased, or ValueError if it does not look like an address."""
    email = email.strip().lower()
    if len(email) > EMAIL_MAX_LENGTH:
        raise ValueError(f"must be at most {EMAIL_MAX_LENGTH} characters")
    if not _EMAIL.match(email):
        raise ValueError("is not an email address (expected name@example.com)")
    return email


@dataclass(frozen=True)
class StaffUser:
    """A staff member as the rest of the service sees them (no password hash)."""

    id: int
    email: str
    name: str
    role: str
    active: bool
    presence: str
    last_seen_at: datetime | None
    totp_enabled: bool = False

    @property
    def is_admin(self) -> bool:
        """Whether they may manage users and settings."""
        return self.role == Role.ADMIN

    @classmethod
    def from_row(cls, row: RowMapping) -> StaffUser:
        """Build from a `users` row."""
        return cls(
            id=row["id"],
            email=row["email"],
            name=row["name"],
            role=row["role"],
            active=row["active"],
            presence=row["presence"],
            last_seen_at=row["last_seen_at"],
            totp_enabled=row["totp_enabled_at"] is not None,
        )


@dataclass(frozen=True)
class Credentials:
    """An account and its stored password hash, for checking a login."""

    user: StaffUser
    password_hash: str


_USER_COLUMNS = (
    _users.c.id,
    _users.c.email,
    _users.c.name,
    _users.c.role,
    _users.c.active,
    _users.c.presence,
    _users.c.last_seen_at,
    _users.c.totp_enabled_at,
)
# Every staff request looks its token up: a pre-built statement.
_TOKEN_USER = (
    select(*_USER_COLUMNS, _tokens.c.expires_at, _tokens.c.revoked_at)
    .join(_users, _users.c.id == _tokens.c.user_id)
    .where(_tokens.c.token_hash == bindparam("token_hash"))
)


def insert_user(
    conn: Connection, *, email: str, password_hash: str, name: str, role: str
) -> StaffUser:
    """Store an account whose password is already hashed; 409 if the email is taken."""
    email = normalize_email(email)
    role = Role(role).value
    taken = conn.execute(select(_users.c.id).where(_users.c.email == email)).first()
    if taken is not None:
        raise _email_taken(email)
    now = utcnow()
    try:
        with conn.begin_nested():  # a concurrent insert of the same email loses here
            user_id = conn.execute(
                insert(_users).returning(_users.c.id),
                {
                    "email": email,
                    "name": name,
                    "role": role,
                    "password_hash": password_hash,
                    "active": True,
                    "presence": Presence.OFFLINE.value,
                    "created_at": now,
                    "updated_at": now,
                },
            ).scalar_one()
    except IntegrityError as exc:
        raise _email_taken(email) from exc
    return StaffUser(user_id, email, name, role, True, Presence.OFFLINE.value, None)


def _email_taken(email: str) -> Conflict:
    return Conflict(
        f"a user with email {email} already exists; choose another email, or deactivate "
        "the existing account first",
        field="email",
    )


def create_user(conn: Connection, *, email: str, password: str, name: str, role: str) -> StaffUser:
    """Hash `password` and store a new account; 409 if the email is taken."""
    passwords.check_strength(password)
    return insert_user(
        conn,
        email=email,
        password_hash=passwords.hash_password(password),
        name=name,
        role=role,
    )


def ensure_admin(conn: Connection, *, email: str, password: str, name: str = "Admin") -> bool:
    """Create an admin with `email` unless a user already has it (whose password is then left
    alone); True if it was created. ValueError names the setting to fix."""
    try:
        email = normalize_email(email)
    except ValueError as exc:
        raise ValueError(f"the admin email (SWITCHBOARD_ADMIN_EMAIL) {exc}") from exc
    if conn.execute(select(_users.c.id).where(_users.c.email == email)).first() is not None:
        return False
    try:
        passwords.check_strength(password)
    except ValueError as exc:
        raise ValueError(f"the admin password (SWITCHBOARD_ADMIN_PASSWORD) {exc}") from exc
    try:
        create_user(conn, email=email, password=password, name=name, role=Role.ADMIN)
    except Conflict:  # another process created it a moment ago
        return False
    return True


def get_user(conn: Connection, *, user_id: int) -> StaffUser | None:
    """The account with this id, if any."""
    row = conn.execute(select(*_USER_COLUMNS).where(_users.c.id == user_id)).mappings().first()
    return StaffUser.from_row(row) if row is not None else None


def list_users(conn: Connection) -> list[StaffUser]:
    """Every account, oldest first."""
    rows = conn.execute(select(*_USER_COLUMNS).order_by(_users.c.id)).mappings()
    return [StaffUser.from_row(r) for r in rows]


def find_credentials(conn: Connection, *, email: str) -> Credentials | None:
    """The account signing in with `email` (any case) and its password hash, if it exists."""
    row = (
        conn.execute(
            select(*_USER_COLUMNS, _users.c.password_hash).where(
                _users.c.email == email.strip().lower()
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return Credentials(StaffUser.from_row(row), row["password_hash"])


def set_password_hash(conn: Connection, *, user_id: int, password_hash: str) -> None:
    """Replace the stored hash (a rehash with current parameters, or a new password)."""
    conn.execute(
        update(_users)
        .where(_users.c.id == user_id)
        .values(password_hash=password_hash, updated_at=utcnow())
    )


def issue_token(conn: Connection, *, user_id: int, hours: float) -> tuple[str, datetime]:
    """A new bearer token for the user (returned once, stored hashed) and when it expires.
    The user's expired tokens are deleted on the way."""
    now = utcnow()
    token = new_token()
    expires_at = now + timedelta(hours=hours)
    conn.execute(delete(_tokens).where(_tokens.c.user_id == user_id, _tokens.c.expires_at < now))
    conn.execute(
        insert(_tokens),
        {
            "token_hash": hash_token(token),
            "user_id": user_id,
            "created_at": now,
            "expires_at": expires_at,
        },
    )
    return token, expires_at


def user_for_token(conn: Connection, *, token: str) -> StaffUser | None:
    """The active user a token belongs to; None if it is unknown, expired or revoked."""
    row = conn.execute(_TOKEN_USER, {"token_hash": hash_token(token)}).mappings().first()
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= utcnow():
        return None
    user = StaffUser.from_row(row)
    return user if user.active else None


def touch_user(conn: Connection, *, user_id: int) -> datetime:
    """Record that the user was just seen; returns the time stored."""
    now = utcnow()
    conn.execute(update(_users).where(_users.c.id == user_id).values(last_seen_at=now))
    return now


def revoke_token(conn: Connection, *, token: str) -> None:
    """Make `token` open nothing from now on (no effect if it is unknown or already revoked)."""
    conn.execute(
        update(_tokens)
        .where(_tokens.c.token_hash == hash_token(token), _tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def deactivate_user(conn: Connection, *, user_id: int) -> StaffUser:
    """Disable an account: it can no longer sign in, and every token it holds stops working at
    once. 404 if there is no such user; deactivating twice is harmless."""
    user = get_user(conn, user_id=user_id)
    if user is None:
        raise UserNotFound(user_id)
    now = utcnow()
    conn.execute(
        update(_users)
        .where(_users.c.id == user_id)
        .values(active=False, presence=Presence.OFFLINE.value, updated_at=now)
    )
    conn.execute(
        update(_tokens)
        .where(_tokens.c.user_id == user_id, _tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return replace(user, active=False, presence=Presence.OFFLINE.value)
