"""Request and response bodies of sign-in and user management. No response carries a password
or its hash."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from app.auth import passwords
from app.auth.models import Role
from app.auth.service import EMAIL_MAX_LENGTH, StaffUser, normalize_email


class LoginIn(BaseModel):
    """Credentials; the email is matched without regard to case."""

    model_config = {"extra": "forbid"}

    email: str = Field(min_length=1, max_length=EMAIL_MAX_LENGTH)
    password: str = Field(min_length=1, max_length=1024, repr=False)


class UserRead(BaseModel):
    """A staff account as shown to its owner and to admins."""

    id: int
    email: str
    name: str
    role: Role
    active: bool
    presence: str
    last_seen_at: datetime | None

    @classmethod
    def of(cls, user: StaffUser) -> UserRead:
        """From the service's value."""
        return cls.model_validate(user, from_attributes=True)


class LoginResult(BaseModel):
    """A bearer token for the staff API (shown once), when it expires, and who it is for."""

    token: str
    expires_at: datetime
    user: UserRead


class UserIn(BaseModel):
    """A new staff account."""

    model_config = {"extra": "forbid"}

    email: str = Field(description="Sign-in address, stored lower-cased.")
    password: str = Field(
        repr=False,
        description=f"{passwords.MIN_LENGTH} to {passwords.MAX_LENGTH} characters; stored only "
        "as an Argon2id hash.",
    )
    name: str = Field(min_length=1, max_length=100, description="Shown to customers and staff.")
    role: Role = Field(description="`agent` works conversations; `admin` also manages users.")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return passwords.check_strength(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value
