"""Staff sign-in: log in for a bearer token, log out (revoke it), and see who you are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.auth import passwords
from app.auth import service as auth_service
from app.auth.client_address import client_address
from app.auth.deps import CurrentStaff, StaffBearer
from app.auth.revocation import announce_token_revoked
from app.auth.schemas import LoginIn, LoginResult, UserRead
from app.auth.service import StaffUser
from app.auth.throttle import LoginThrottle
from app.db import Database
from app.deps import BrokerDep, DbDep, SettingsDep
from app.errors import ServiceUnavailable, Unauthorized

WRONG_CREDENTIALS = "email or password is wrong"


async def get_login_throttle(request: Request) -> LoginThrottle:
    """The application's login throttle (made by `create_app`)."""
    throttle: LoginThrottle | None = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        raise ServiceUnavailable("the service is still starting")
    return throttle


ThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]


async def _check_credentials(db: Database, login: LoginIn) -> StaffUser | None:
    """The active account these credentials open, else None; the hash is checked off the event
    loop, and against a dummy hash when the email is unknown (same time, same answer)."""
    found = await db.read(auth_service.find_credentials, email=login.email)
    stored = found.password_hash if found else None
    if not await passwords.verify_off_loop(stored, login.password):
        return None
    assert found is not None and stored is not None
    if not found.user.active:
        return None
    if passwords.needs_rehash(stored):
        rehashed = await passwords.hash_off_loop(login.password)
        await db.run(auth_service.set_password_hash, user_id=found.user.id, password_hash=rehashed)
    return found.user


router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post(
    "/login",
    responses={
        401: {"description": "Wrong email or password (the same answer for unknown emails)"},
        429: {"description": "Too many failed sign-ins; see Retry-After"},
    },
)
async def login(
    login_in: LoginIn,
    request: Request,
    response: Response,
    db: DbDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> LoginResult:
    """Exchange an email and password for a staff bearer token."""
    async with throttle.attempt(email=login_in.email, client=client_address(request)) as attempt:
        user = await _check_credentials(db, login_in)
        attempt.succeeded = user is not None
    if user is None:
        raise Unauthorized(WRONG_CREDENTIALS)
    token, expires_at = await db.run(
        auth_service.issue_token, user_id=user.id, hours=settings.auth.token_hours
    )
    response.headers["Cache-Control"] = "no-store"
    return LoginResult(token=token, expires_at=expires_at, user=UserRead.of(user))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(user: CurrentStaff, token: StaffBearer, db: DbDep, broker: BrokerDep) -> Response:
    """Revoke the token this request was made with; it opens nothing afterwards, and live
    streams opened with it close (4401) in every process."""
    await db.run(auth_service.revoke_token, token=token)
    await announce_token_revoked(broker, user_id=user.id, token=token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
async def me(user: CurrentStaff) -> UserRead:
    """The signed-in staff member."""
    return UserRead.of(user)
