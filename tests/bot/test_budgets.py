"""The per-client text budget: an address that sent too many characters of messages recently
gets a 429 with Retry-After and a message that says what happened; nothing of the refused
message is stored. `budgets.enabled = false` turns it off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import ask, open_conversation

LONG = "My parcel was meant to arrive on Monday and it still has not come. " * 58  # 3,944


async def test_an_address_over_its_text_budget_gets_429_and_nothing_is_stored(
    start_app: Callable[..., Any],
) -> None:
    async with start_app(budgets={"client_chars": "10000/minute"}) as client:
        opened = await open_conversation(client)
        for _ in range(2):
            assert (await ask(client, opened, LONG)).status_code == 201
        refused = await ask(client, opened, LONG)
        assert refused.status_code == 429, refused.text
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        message = refused.json()["error"]["message"]
        assert "too much text" in message and "10000 characters per minute" in message
        assert f"try again in {retry_after} seconds" in message
        # The budget is the address's, not the conversation's.
        other = await open_conversation(client)
        assert (await ask(client, other, LONG)).status_code == 429
        # Short messages still fit in what is left.
        assert (await ask(client, other, "where is my order?")).status_code == 201
        stored = await client.get(f"/api/v1/conversations/{opened[0]}/messages", headers=opened[1])
        customer = [m for m in stored.json()["messages"] if m["author"] == "customer"]
        assert len(customer) == 2


async def test_a_message_larger_than_the_whole_budget_is_413(
    start_app: Callable[..., Any],
) -> None:
    async with start_app(budgets={"client_chars": "1000/minute"}) as client:
        response = await ask(client, await open_conversation(client), LONG)
    assert response.status_code == 413, response.text
    assert "1000 characters per minute" in response.json()["error"]["message"]


async def test_the_budget_can_be_turned_off(start_app: Callable[..., Any]) -> None:
    async with start_app(budgets={"client_chars": "5000/minute", "enabled": False}) as client:
        opened = await open_conversation(client)
        for _ in range(3):
            assert (await ask(client, opened, LONG)).status_code == 201
