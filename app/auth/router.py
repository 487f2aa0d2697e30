"""Staff sign-in: log in for a bearer token, log out (revoke it), and see who you are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.auth import passwords, totp
from app.auth import service as auth_service
from app.auth.deps import SignedInStaff, StaffBearer
from app.auth.revocation import announce_token_revoked
from app.auth.schemas import LoginIn, LoginResult, TotpCodeIn, TotpEnrolmentRead, UserRead
from app.auth.service import StaffUser
from app.auth.throttle import LoginThrottle
from app.db import Database
from app.deps import BrokerDep, ClientAddress, DbDep, SettingsDep
from app.error_responses import STAFF, errors
from app.errors import ServiceUnavailable, Unauthorized

WRONG_CREDENTIALS = "email or password is wrong"
CODE_NEEDED = (
    "this account signs in with a one-time code too: send the 6-digit code of your "
    "authenticator app as `totp`"
)
WRONG_CODE = "the one-time code is wrong or was already used; send the code shown now"


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
    responses=errors(
        400,
        413,
        422,
        429,
        503,
        described={
            401: "Wrong email or password (the same answer for unknown emails); or the account "
            "needs a one-time code (`second_factor: required`) or the code sent is wrong or was "
            "already used (`second_factor: wrong`)"
        },
    ),
)
async def login(
    login_in: LoginIn,
    response: Response,
    db: DbDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    client: ClientAddress,
) -> LoginResult:
    """Exchange an email and password (and, once a second factor is enrolled, a current
    one-time code as `totp`) for a staff bearer token."""
    refusal: Unauthorized | None = None
    async with throttle.attempt(email=login_in.email, client=client) as attempt:
        user = await _check_credentials(db, login_in)
        if user is None:
            attempt.succeeded = False
            refusal = Unauthorized(WRONG_CREDENTIALS)
        elif user.totp_enabled and login_in.totp is None:
            # The password was right: nothing is counted, the client asks for the code.
            refusal = Unauthorized(CODE_NEEDED, second_factor="required")
        elif user.totp_enabled:
            assert login_in.totp is not None
            attempt.succeeded = await db.run(totp.use_code, user_id=user.id, code=login_in.totp)
            if not attempt.succeeded:
                refusal = Unauthorized(WRONG_CODE, second_factor="wrong")
        else:
            attempt.succeeded = True
    if refusal is not None or user is None:
        raise refusal or Unauthorized(WRONG_CREDENTIALS)
    token, expires_at = await db.run(
        auth_service.issue_token, user_id=user.id, hours=settings.auth.token_hours
    )
    response.headers["Cache-Control"] = "no-store"
    return LoginResult(
        token=token,
        expires_at=expires_at,
        user=UserRead.of(user),
        enrol_second_factor=totp.must_enrol(
            user, required_for_admins=settings.auth.require_totp_for_admins
        ),
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 503))
async def logout(user: SignedInStaff, token: StaffBearer, db: DbDep, broker: BrokerDep) -> Response:
    """Revoke the token this request was made with; it opens nothing afterwards, and live
    streams opened with it close (4401) in every process."""
    await db.run(auth_service.revoke_token, token=token)
    await announce_token_revoked(broker, user_id=user.id, token=token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", responses=errors(401, 503))
async def me(user: SignedInStaff) -> UserRead:
    """The signed-in staff member."""
    return UserRead.of(user)


@router.post(
    "/totp/enrol",
    responses={
        **STAFF,
        **errors(described={409: "A second factor is already enrolled (an admin resets it)"}),
    },
)
async def enrol_second_factor(
    user: SignedInStaff, response: Response, db: DbDep
) -> TotpEnrolmentRead:
    """Start enrolling a second factor: a new secret (shown this once, as text and as an
    `otpauth://` URI for an authenticator app). Nothing changes at sign-in until it is
    confirmed with POST /api/v1/auth/totp/confirm; enrolling again before that replaces it."""
    enrolment = await db.run(totp.start_enrolment, user=user)
    response.headers["Cache-Control"] = "no-store"
    return TotpEnrolmentRead(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


@router.post(
    "/totp/confirm",
    responses={
        **STAFF,
        **errors(
            described={
                409: "No enrolment was started, or it is already confirmed",
                422: "The code does not match the secret being enrolled",
            }
        ),
    },
)
async def confirm_second_factor(code_in: TotpCodeIn, user: SignedInStaff, db: DbDep) -> UserRead:
    """Turn the second factor on with a current code of the enrolled secret; from now on
    sign-in needs the password and a code (`totp`)."""
    return UserRead.of(await db.run(totp.confirm_enrolment, user=user, code=code_in.code))
