"""FastAPI dependencies for staff routes: `CurrentStaff` (any signed-in agent or admin, 401
otherwise) and `CurrentAdmin` (403 for agents). When admins must use a second factor
(`SWITCHBOARD_AUTH__REQUIRE_TOTP_FOR_ADMINS`), an admin who has not enrolled gets 403 from both
until they do; `SignedInStaff` (sign-out, /me, enrolment) lets them through.

Customer conversation tokens are not staff tokens, so they get 401 here. Each authenticated
request records that its user was seen (presence), writing at most once per
`SEEN_EVERY_SECONDS` per user.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from app.auth import service as auth_service
from app.auth import totp
from app.auth.service import StaffUser
from app.db import utcnow
from app.deps import CHALLENGE, DbDep, SettingsDep, read_bearer
from app.errors import Forbidden, Unauthorized

SEEN_EVERY_SECONDS = 15


async def staff_token(request: Request) -> str:
    """A staff token from the `Authorization` header, or 401 saying how to get one."""
    return read_bearer(
        request,
        how_to_get_one="sign in with POST /api/v1/auth/login and send "
        "'Authorization: Bearer <token>'",
    )


StaffBearer = Annotated[str, Depends(staff_token)]


async def signed_in_staff(token: StaffBearer, db: DbDep) -> StaffUser:
    """The signed-in staff member, enrolled or not; 401 if the token is unknown, expired or
    revoked."""
    user = await db.read(auth_service.user_for_token, token=token)
    if user is None:
        raise Unauthorized(
            "this token is not a valid staff token (unknown, expired, revoked, or the account "
            "was deactivated); sign in again with POST /api/v1/auth/login",
            headers=CHALLENGE,
        )
    now = utcnow()
    if user.last_seen_at is None or now - user.last_seen_at >= timedelta(
        seconds=SEEN_EVERY_SECONDS
    ):
        seen = await db.run(auth_service.touch_user, user_id=user.id)
        user = replace(user, last_seen_at=seen)
    return user


SignedInStaff = Annotated[StaffUser, Depends(signed_in_staff)]


async def current_staff(user: SignedInStaff, settings: SettingsDep) -> StaffUser:
    """The signed-in staff member; 403 for an admin who must enrol a second factor first."""
    if totp.must_enrol(user, required_for_admins=settings.auth.require_totp_for_admins):
        raise Forbidden(totp.ENROL_FIRST, second_factor="enrol")
    return user


CurrentStaff = Annotated[StaffUser, Depends(current_staff)]


async def current_admin(user: CurrentStaff) -> StaffUser:
    """The signed-in admin; 403 for agents."""
    if not user.is_admin:
        raise Forbidden(f"only admins may do this; {user.email} is an {user.role}")
    return user


CurrentAdmin = Annotated[StaffUser, Depends(current_admin)]
