"""User management for admins: create, list, read and deactivate staff accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from app.agents.flows import release_agent
from app.auth import passwords
from app.auth import service as auth_service
from app.auth.deps import CurrentAdmin
from app.auth.schemas import UserIn, UserRead
from app.deps import RuntimeDep
from app.errors import Conflict, NotFound

UserId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The user's id.")]

router = APIRouter(prefix="/api/v1/admin/users", tags=["admin"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_user(user_in: UserIn, _admin: CurrentAdmin, runtime: RuntimeDep) -> UserRead:
    """Create an agent or admin account; 409 if the email is taken."""
    password_hash = await passwords.hash_off_loop(user_in.password)
    user = await runtime.db.run(
        auth_service.insert_user,
        email=user_in.email,
        password_hash=password_hash,
        name=user_in.name,
        role=user_in.role,
    )
    return UserRead.of(user)


@router.get("")
async def list_users(_admin: CurrentAdmin, runtime: RuntimeDep) -> list[UserRead]:
    """Every account, active or not, oldest first."""
    return [UserRead.of(u) for u in await runtime.db.read(auth_service.list_users)]


@router.get("/{user_id}")
async def get_user(user_id: UserId, _admin: CurrentAdmin, runtime: RuntimeDep) -> UserRead:
    """One account."""
    user = await runtime.db.read(auth_service.get_user, user_id=user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return UserRead.of(user)


@router.post("/{user_id}/deactivate")
async def deactivate_user(user_id: UserId, admin: CurrentAdmin, runtime: RuntimeDep) -> UserRead:
    """Disable an account: its tokens stop working at once and it can no longer sign in; its
    open conversations go back to the queue. An admin cannot deactivate themselves (409)."""
    if user_id == admin.id:
        raise Conflict(
            "you cannot deactivate your own account; another admin must do it",
            field="user_id",
        )
    user = await runtime.db.run(auth_service.deactivate_user, user_id=user_id)
    await release_agent(runtime, user_id=user.id)
    return UserRead.of(user)
