"""Limits on abuse of the customer endpoints, through HTTP against a real app: new conversations
and messages per address, messages per conversation, handoffs per address, an intent's action
limit (the demo's password reset, against the real orders service), and the switch that turns
them all off. Each refusal is a 429 with `Retry-After` and a message saying what to wait for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import DEMO_DATA, ORDERS_TOKEN, ask, open_conversation, signed

HUMAN_PLEASE = "I want to talk to a human please"


def assert_refused(response: httpx.Response, what: str) -> None:
    """A 429 with a whole number of seconds in Retry-After and a message naming `what`."""
    assert response.status_code == 429, response.text
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 3600
    error = response.json()["error"]
    assert error["code"] == "too_many_requests"
    assert what in error["message"] and f"try again in {wait} seconds" in error["message"]
    assert error["retry_after"] == wait


async def test_new_conversations_per_address(start_app: Callable[..., Any]) -> None:
    async with start_app(rate_limits={"conversations_per_address": "3/minute"}) as client:
        for _ in range(3):
            await open_conversation(client)
        refused = await client.post("/api/v1/conversations")
        assert_refused(refused, "new conversations from your address")
        assert "3 per 1 minute" in refused.json()["error"]["message"]


async def test_messages_per_conversation_and_per_address(start_app: Callable[..., Any]) -> None:
    limits = {"messages_per_conversation": "2/minute", "messages_per_address": "4/minute"}
    async with start_app(rate_limits=limits) as client:
        first = await open_conversation(client)
        for text in ("what are your shipping options", "and returns?"):
            assert (await ask(client, first, text)).status_code == 201
        refused = await ask(client, first, "one more")
        assert_refused(refused, "messages in this conversation")
        # Refused means not stored: the customer's history holds the two turns only.
        page = await client.get(f"/api/v1/conversations/{first[0]}/messages", headers=first[1])
        assert [m["author"] for m in page.json()["messages"]] == ["customer", "bot"] * 2

        # Every post counts against its address, the refused one too: this is its 4th.
        second = await open_conversation(client)
        assert (await ask(client, second, "hello")).status_code == 201
        assert_refused(await ask(client, second, "hello again"), "messages from your address")


async def test_a_wrong_token_spends_nothing_of_the_conversation(
    start_app: Callable[..., Any],
) -> None:
    async with start_app(rate_limits={"messages_per_conversation": "1/minute"}) as client:
        opened = await open_conversation(client)
        stranger = (opened[0], {"Authorization": "Bearer not-the-token"})
        assert (await ask(client, stranger, "hello")).status_code == 403
        assert (await ask(client, opened, "hello")).status_code == 201


async def test_handoffs_per_address(start_app: Callable[..., Any]) -> None:
    async with start_app(rate_limits={"handoffs_per_address": "1/minute"}) as client:
        first = await open_conversation(client)
        handed = await ask(client, first, HUMAN_PLEASE)
        assert handed.status_code == 201 and handed.json()["reply"]["kind"] == "handoff"

        second = await open_conversation(client)
        refused = await ask(client, second, HUMAN_PLEASE)
        assert_refused(refused, "requests for a person from your address")
        view = await client.get(f"/api/v1/conversations/{second[0]}", headers=second[1])
        assert view.json()["status"] == "bot"  # nothing stored, not queued
        page = await client.get(f"/api/v1/conversations/{second[0]}/messages", headers=second[1])
        assert page.json()["messages"] == []
        # Only handoffs are refused: the bot still answers a question.
        answered = await ask(client, second, "what are your shipping options")
        assert answered.status_code == 201 and answered.json()["reply"]["kind"] != "handoff"


async def resets_sent(orders_api: str, customer_id: str) -> int:
    """Reset links the orders service has sent for the customer (it lives for the whole run)."""
    async with httpx.AsyncClient(base_url=orders_api) as orders:
        response = await orders.get(
            "/state/password-resets", headers={"Authorization": f"Bearer {ORDERS_TOKEN}"}
        )
    assert response.status_code == 200, response.text
    return sum(1 for sent in response.json() if sent["customer_id"] == customer_id)


def demo_customer(customer_id: str) -> dict[str, str]:
    return signed(next(dict(c) for c in DEMO_DATA["customers"] if c["id"] == customer_id))


async def reset_password(client: httpx.AsyncClient, customer: dict[str, str]) -> dict[str, Any]:
    """A verified customer asks for a reset link in a new conversation: the bot's reply."""
    opened = await open_conversation(client, customer)
    done = await ask(client, opened, "I forgot my password")
    assert done.status_code == 201, done.text
    return done.json()["reply"]  # type: ignore[no-any-return]


async def test_password_resets_per_customer_are_limited_by_the_intent(
    start_app: Callable[..., Any], orders_api: str
) -> None:
    customer = demo_customer("C-2011")
    before = await resets_sent(orders_api, customer["id"])
    async with start_app() as client:
        for _ in range(3):  # password_reset.yaml: 3/hour per customer
            reply = await reset_password(client, customer)
            assert reply["kind"] == "intent" and "sent a reset link" in reply["text"], reply
        assert await resets_sent(orders_api, customer["id"]) == before + 3
        # A fourth request, from yet another conversation, gets the limit's reply.
        reply = await reset_password(client, customer)
        assert reply["kind"] == "intent", reply
        assert "won't send another yet" in reply["text"]
        assert await resets_sent(orders_api, customer["id"]) == before + 3  # no 4th call


async def test_turned_off_nothing_is_limited(
    start_app: Callable[..., Any], orders_api: str
) -> None:
    customer = demo_customer("C-2012")
    before = await resets_sent(orders_api, customer["id"])
    limits = {
        "enabled": False,
        "conversations_per_address": "1/minute",
        "messages_per_conversation": "1/minute",
        "handoffs_per_address": "1/minute",
    }
    async with start_app(rate_limits=limits) as client:
        for _ in range(4):
            opened = await open_conversation(client, customer)
            for _ in range(2):  # two messages in each conversation (1/minute when on)
                done = await ask(client, opened, "I forgot my password")
                assert done.status_code == 201, done.text
                assert "sent a reset link" in done.json()["reply"]["text"], done.text
        assert await resets_sent(orders_api, customer["id"]) == before + 8
        for _ in range(2):
            handed = await ask(client, await open_conversation(client), HUMAN_PLEASE)
            assert handed.json()["reply"]["kind"] == "handoff"
