"""Request and response bodies of sign-in and user management. No response carries a password
or its hash."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from app.auth import passwords, totp
from app.auth.models import Role
from app.auth.service import EMAIL_MAX_LENGTH, StaffUser, normalize_email
from app.text_rules import check_text


class LoginIn(BaseModel):
    """Credentials; the email is matched without regard to case."""

    model_config = {"extra": "forbid"}

    email: str = Field(min_length=1, max_length=EMAIL_MAX_LENGTH)
    password: str = Field(min_length=1, max_length=1024, repr=False)
    totp: str | None = Field(
        None,
        max_length=16,
        repr=False,
        description="The 6-digit code of the account's authenticator app, when it has enrolled "
        "a second factor (each code is accepted once).",
    )

    @field_validator("totp")
    @classmethod
    def _totp(cls, value: str | None) -> str | None:
        return None if value is None else totp.normalize_code(value)


class TotpCodeIn(BaseModel):
    """A code from the authenticator app being enrolled."""

    model_config = {"extra": "forbid"}

    code: str = Field(max_length=16, repr=False, description="The 6-digit code it shows now.")

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        return totp.normalize_code(value)


class TotpEnrolmentRead(BaseModel):
    """A new second-factor secret, shown this once: type `secret` into an authenticator app or
    open `otpauth_uri`, then confirm with a code."""

    secret: str
    otpauth_uri: str


class UserRead(BaseModel):
    """A staff account as shown to its owner and to admins."""

    id: int
    email: str
    name: str
    role: Role
    active: bool
    presence: str
    last_seen_at: datetime | None
    totp_enabled: bool = Field(description="Whether signing in needs a one-time code too.")

    @classmethod
    def of(cls, user: StaffUser) -> UserRead:
        """From the service's value."""
        return cls.model_validate(user, from_attributes=True)


class LoginResult(BaseModel):
    """A bearer token for the staff API (shown once), when it expires, and who it is for."""

    token: str
    expires_at: datetime
    user: UserRead
    enrol_second_factor: bool = Field(
        False,
        description="True when this account must enrol a second factor before the token opens "
        "anything but enrolment (admins, with SWITCHBOARD_AUTH__REQUIRE_TOTP_FOR_ADMINS).",
    )


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
        return check_text(value)
