"""Fixtures of the auth tests: an app whose first admin comes from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, login


@pytest.fixture
async def staff_client(start_app: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app started with `SWITCHBOARD_ADMIN_EMAIL` / `_PASSWORD` set."""
    async with start_app(**ADMIN) as client:
        yield client


@pytest.fixture
async def admin_headers(staff_client: httpx.AsyncClient) -> dict[str, str]:
    """The first admin's auth headers."""
    return await login(staff_client, ADMIN_EMAIL, ADMIN_PASSWORD)
