"""The optional second factor of staff accounts: time-based one-time codes (RFC 6238, `pyotp`).

A staff member enrols (`start_enrolment`: a new secret, shown once with its `otpauth://` URI),
then confirms with a code from their app (`confirm_enrolment`); from then on a sign-in needs
the password and a current code (`use_code`). A code is accepted for the time step it belongs
to or one step either side (clock drift), and only once: the step of the last accepted code is
stored, and a conditional UPDATE refuses that step and earlier ones, so a replayed code, even
sent in parallel, is refused. An admin can reset a user's second factor (`reset`).

Secrets are stored as given by `pyotp` (base32) in the `users` row; they are returned only by
`start_enrolment` and never logged.

Every function over a `Connection` is run by `Database.run` (one transaction).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection

from app.auth.models import User
from app.auth.service import StaffUser, get_user
from app.db import utcnow
from app.errors import Conflict, Unprocessable, UserNotFound

ISSUER = "Switchboard"
DRIFT_STEPS = 1  # codes of the neighbouring time steps are accepted too

_users = User.__table__


@dataclass(frozen=True)
class Enrolment:
    """A new secret for an authenticator app, shown once: as text and as an `otpauth://` URI."""

    secret: str
    otpauth_uri: str


def normalize_code(code: str) -> str:
    """`code` without spaces, or ValueError unless it is six digits."""
    code = code.replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise ValueError("must be the 6-digit code shown by your authenticator app")
    return code


def matching_step(secret: str, code: str, *, now: datetime | None = None) -> int | None:
    """The time step whose code `code` is (the current one or a neighbour), else None."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now or utcnow())
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def start_enrolment(conn: Connection, *, user: StaffUser) -> Enrolment:
    """A new secret for `user` (replacing one not confirmed yet); 409 once enrolment was
    confirmed: the secret is never shown again, an admin must reset it first."""
    if user.totp_enabled:
        raise Conflict(
            "a second factor is already enrolled for this account; to enrol a new device, "
            "ask an admin to reset it (POST /api/v1/admin/users/{id}/totp/reset)"
        )
    secret = pyotp.random_base32()
    conn.execute(
        update(_users)
        .where(_users.c.id == user.id)
        .values(totp_secret=secret, totp_enabled_at=None, totp_last_step=None)
    )
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(secret=secret, otpauth_uri=uri)


def confirm_enrolment(conn: Connection, *, user: StaffUser, code: str) -> StaffUser:
    """Turn the second factor on with a code of the secret from `start_enrolment`; 409 if
    there is nothing to confirm, 422 if the code does not match."""
    row = conn.execute(
        select(_users.c.totp_secret, _users.c.totp_enabled_at).where(_users.c.id == user.id)
    ).first()
    if row is None or row.totp_secret is None or row.totp_enabled_at is not None:
        raise Conflict(
            "there is no enrolment to confirm; start one with POST /api/v1/auth/totp/enrol"
            if row is None or row.totp_enabled_at is None
            else "the second factor is already enrolled"
        )
    if not _accept(conn, user_id=user.id, secret=row.totp_secret, code=code):
        raise Unprocessable(
            "that code does not match the secret being enrolled; check the device's clock "
            "and send the code it shows now",
            field="code",
        )
    conn.execute(update(_users).where(_users.c.id == user.id).values(totp_enabled_at=utcnow()))
    confirmed = get_user(conn, user_id=user.id)
    assert confirmed is not None
    return confirmed


def use_code(conn: Connection, *, user_id: int, code: str) -> bool:
    """Whether `code` is a current code of the user's enrolled second factor not used before
    (it is then spent)."""
    row = conn.execute(
        select(_users.c.totp_secret).where(
            _users.c.id == user_id, _users.c.totp_enabled_at.is_not(None)
        )
    ).first()
    if row is None or row.totp_secret is None:
        return False
    return _accept(conn, user_id=user_id, secret=row.totp_secret, code=code)


def _accept(conn: Connection, *, user_id: int, secret: str, code: str) -> bool:
    step = matching_step(secret, code)
    if step is None:
        return False
    spent = conn.execute(
        update(_users)
        .where(
            _users.c.id == user_id,
            or_(_users.c.totp_last_step.is_(None), _users.c.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return spent.rowcount == 1


def reset(conn: Connection, *, user_id: int) -> StaffUser:
    """Remove the user's second factor (they sign in with the password alone, and may enrol
    again); 404 if there is no such user."""
    if get_user(conn, user_id=user_id) is None:
        raise UserNotFound(user_id)
    conn.execute(
        update(_users)
        .where(_users.c.id == user_id)
        .values(totp_secret=None, totp_enabled_at=None, totp_last_step=None, updated_at=utcnow())
    )
    user = get_user(conn, user_id=user_id)
    assert user is not None
    return user


def must_enrol(user: StaffUser, *, required_for_admins: bool) -> bool:
    """Whether `user` must enrol a second factor before their token opens anything else."""
    return required_for_admins and user.is_admin and not user.totp_enabled


ENROL_FIRST = (
    "admins must use a second factor here: enrol with POST /api/v1/auth/totp/enrol, add the "
    "secret to an authenticator app, then confirm with POST /api/v1/auth/totp/confirm"
)
