"""User management for admins: create, list and read staff accounts, and reset a second
factor (deactivation lives with the staff routes: app/agents/router.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from app.auth import passwords, totp
from app.auth import service as auth_service
from app.auth.deps import CurrentAdmin
from app.auth.schemas import UserIn, UserRead
from app.deps import DbDep
from app.error_responses import ADMIN, errors
from app.errors import UserNotFound
from app.query_types import WHOLE

UserId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The user's id."), WHOLE]

router = APIRouter(prefix="/api/v1/admin/users", tags=["admin"], responses=ADMIN)


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409))
async def create_user(user_in: UserIn, _admin: CurrentAdmin, db: DbDep) -> UserRead:
    """Create an agent or admin account; 409 if the email is taken."""
    password_hash = await passwords.hash_off_loop(user_in.password)
    user = await db.run(
        auth_service.insert_user,
        email=user_in.email,
        password_hash=password_hash,
        name=user_in.name,
        role=user_in.role,
    )
    return UserRead.of(user)


@router.get("")
async def list_users(_admin: CurrentAdmin, db: DbDep) -> list[UserRead]:
    """Every account, active or not, oldest first."""
    return [UserRead.of(u) for u in await db.read(auth_service.list_users)]


@router.get("/{user_id}", responses=errors(404))
async def get_user(user_id: UserId, _admin: CurrentAdmin, db: DbDep) -> UserRead:
    """One account."""
    user = await db.read(auth_service.get_user, user_id=user_id)
    if user is None:
        raise UserNotFound(user_id)
    return UserRead.of(user)


@router.post("/{user_id}/totp/reset", responses=errors(404))
async def reset_second_factor(user_id: UserId, _admin: CurrentAdmin, db: DbDep) -> UserRead:
    """Remove a user's second factor (e.g. a lost phone): they sign in with the password
    alone until they enrol again. 404 if there is no such user."""
    return UserRead.of(await db.run(totp.reset, user_id=user_id))
