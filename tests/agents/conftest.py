"""Fixtures of the agents' tests: an app with a first admin, two agents, and helpers that hand a
conversation off the way a customer would (by asking the bot for a person)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, Opened, ask, login, make_staff
from tests.conftest import open_conversation as open_conv

HUMAN_PLEASE = "I want to talk to a human please"


@dataclass
class Desk:
    """A running app with its staff: an admin and the agents Alice and Bob."""

    client: httpx.AsyncClient
    admin: dict[str, str]
    alice: dict[str, str]
    bob: dict[str, str]
    alice_id: int
    bob_id: int

    async def handed_off(self, text: str = HUMAN_PLEASE) -> tuple[Opened, dict[str, Any]]:
        """A new conversation whose customer asked for a person; returns it and the reply."""
        opened = await open_conv(self.client)
        response = await ask(self.client, opened, text)
        assert response.status_code == 201, response.text
        reply = response.json()["reply"]
        assert reply["kind"] == "handoff", reply
        return opened, reply

    async def online(self, headers: dict[str, str]) -> None:
        """Mark a staff member online."""
        response = await self.client.put(
            "/api/v1/agent/presence", json={"status": "online"}, headers=headers
        )
        assert response.status_code == 200, response.text

    async def claim(self, opened: Opened, headers: dict[str, str]) -> httpx.Response:
        """Claim a conversation as the staff member with `headers`."""
        return await self.client.post(
            f"/api/v1/agent/conversations/{opened[0]}/claim", headers=headers
        )

    async def agent_says(
        self, opened: Opened, headers: dict[str, str], text: str, **extra: Any
    ) -> httpx.Response:
        """Post an agent message."""
        return await self.client.post(
            f"/api/v1/agent/conversations/{opened[0]}/messages",
            json={"text": text, **extra},
            headers=headers,
        )

    async def customer_messages(self, opened: Opened, after: int = 0) -> list[dict[str, Any]]:
        """The messages the customer can read."""
        response = await self.client.get(
            f"/api/v1/conversations/{opened[0]}/messages",
            params={"after": after},
            headers=opened[1],
        )
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    async def staff_view(self, opened: Opened, headers: dict[str, str] | None = None) -> Any:
        """The conversation as staff see it."""
        response = await self.client.get(
            f"/api/v1/agent/conversations/{opened[0]}", headers=headers or self.admin
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def start_desk(start_app: Callable[..., Any]) -> Callable[..., Any]:
    """`async with start_desk(**settings) as desk:` runs an app with an admin and two agents."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def _start(**overrides: Any) -> AsyncIterator[Desk]:
        async with start_app(**ADMIN, **overrides) as client:
            admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
            alice, alice_headers = await make_staff(
                client, admin, email="alice@example.com", name="Alice", role="agent"
            )
            bob, bob_headers = await make_staff(
                client, admin, email="bob@example.com", name="Bob", role="agent"
            )
            yield Desk(client, admin, alice_headers, bob_headers, alice["id"], bob["id"])

    return _start


@pytest.fixture
async def desk(start_desk: Callable[..., Any]) -> AsyncIterator[Desk]:
    """An app with default settings (no auto-assignment, always open), an admin and two agents."""
    async with start_desk() as d:
        yield d
