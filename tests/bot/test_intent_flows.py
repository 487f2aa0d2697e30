"""Routine intents end to end through the HTTP API: slots asked across turns, the real demo
orders service called, confirmations, corrections, topic changes, and every handoff reason.

The demo's order, refund, cancel and password-reset intents require a verified customer, so
those flows run as the demo customer who owns the order (signed as the host site would);
what an anonymous visitor gets is tested in tests/conversations/test_verified_customers.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from app.config import IntegrationSettings
from tests.conftest import (
    ORDERS_TOKEN,
    Opened,
    ask,
    free_port,
    open_conversation,
    orders_state,
    owner_of,
    signed,
)


def _sayer(client: httpx.AsyncClient, opened: Opened) -> Callable[..., Any]:
    async def say(text: str, **extra: Any) -> dict[str, Any]:
        response = await ask(client, opened, text, **extra)
        assert response.status_code in (200, 201), response.text
        return response.json()

    say.opened = opened  # type: ignore[attr-defined]
    say.client = client  # type: ignore[attr-defined]
    return say


@pytest.fixture
async def chat(client: httpx.AsyncClient) -> AsyncIterator[Callable[..., Any]]:
    """`await chat(text)` posts into one fresh anonymous conversation and returns the JSON."""
    yield _sayer(client, await open_conversation(client))


@pytest.fixture
async def chat_as(client: httpx.AsyncClient) -> Callable[..., Any]:
    """`say = await chat_as("LS-10041")`: a fresh conversation of the verified demo customer
    who owns that order; `say(text)` posts into it."""

    async def start(order_number: str) -> Callable[..., Any]:
        customer = signed(owner_of(order_number))
        return _sayer(client, await open_conversation(client, customer))

    return start


async def status_of(client: httpx.AsyncClient, opened: Opened) -> str:
    conversation_id, auth = opened
    response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=auth)
    return str(response.json()["status"])


async def test_order_status_asks_for_the_number_then_calls_the_orders_service(
    chat_as: Callable[..., Any],
) -> None:
    chat = await chat_as("LS-10041")
    first = await chat("where is my order?")
    assert first["reply"]["kind"] == "ask"
    assert first["reply"]["intent"] == "order_status"
    assert "order number" in first["reply"]["text"]
    assert first["signals"]["intent"]["name"] == "order_status"
    assert set(first["signals"]) == {"intent", "kb_top_score", "sentiment", "sentiment_trend"}

    second = await chat("it's LS-10041")
    reply = second["reply"]
    assert (reply["kind"], reply["intent"]) == ("intent", "order_status")
    assert "LS-10041" in reply["text"] and "shipped" in reply["text"] and "UPS" in reply["text"]


async def test_order_number_in_the_first_message_answers_at_once(
    chat_as: Callable[..., Any],
) -> None:
    chat = await chat_as("LS-10042")
    reply = (await chat("Can you check on order 10042 for me?"))["reply"]
    assert reply["kind"] == "intent"
    assert "LS-10042" in reply["text"] and "delivered" in reply["text"]


async def test_unknown_order_is_answered_from_the_404_template(
    chat_as: Callable[..., Any],
) -> None:
    chat = await chat_as("LS-10042")
    reply = (await chat("what's the status of order LS-99999"))["reply"]
    assert reply["kind"] == "intent"
    assert "couldn't find an order numbered LS-99999" in reply["text"]


async def test_password_reset_goes_to_the_email_on_record(
    chat_as: Callable[..., Any], orders_api: str
) -> None:
    # Not to an address typed in chat: the verified customer's email on record (masked).
    chat = await chat_as("LS-10041")
    done = (await chat("I forgot my password"))["reply"]
    assert (done["kind"], done["intent"]) == ("intent", "password_reset")
    assert "s**@example.com" in done["text"] and "30 minutes" in done["text"]
    auth = {"Authorization": f"Bearer {ORDERS_TOKEN}"}
    async with httpx.AsyncClient() as orders:
        sent = (await orders.get(f"{orders_api}/state/password-resets", headers=auth)).json()
    assert {"customer_id": owner_of("LS-10041")["id"], "email": "sam@example.com"} in sent


async def test_refund_confirms_accepts_a_correction_and_runs_once(
    chat_as: Callable[..., Any], database_url: str, orders_api: str
) -> None:
    # The orders service lives for the whole run: each database variant refunds its own order.
    order = "LS-10047" if database_url.startswith("sqlite") else "LS-10050"
    chat = await chat_as(order)
    confirm = (await chat("I want a refund for order LS-10044"))["reply"]
    assert (confirm["kind"], confirm["reason"]) == ("ask", "confirm_needed")
    assert "LS-10044" in confirm["text"]

    corrected = (await chat(f"no sorry, it's order {order}"))["reply"]
    assert (corrected["kind"], corrected["reason"]) == ("ask", "confirm_needed")
    assert order in corrected["text"] and "LS-10044" not in corrected["text"]

    done = await chat("yes", client_id="confirm-1")
    assert done["reply"]["kind"] == "intent" and "is approved" in done["reply"]["text"]
    replayed = await chat("yes", client_id="confirm-1")
    assert replayed == done  # the retry is answered from storage: refunded once

    refunded = await orders_state(orders_api, order)
    untouched = await orders_state(orders_api, "LS-10044")
    assert refunded["refund"]["id"] in done["reply"]["text"]
    assert "refund" not in untouched

    again = (await chat(f"refund order {order} please"))["reply"]
    assert again["reason"] == "confirm_needed"
    refused = (await chat("yes"))["reply"]
    assert refused["kind"] == "intent" and "already been refunded" in refused["text"]


async def test_no_at_the_confirmation_changes_nothing(
    chat_as: Callable[..., Any], orders_api: str
) -> None:
    chat = await chat_as("LS-10046")
    assert (await chat("please cancel order LS-10046"))["reply"]["reason"] == "confirm_needed"
    declined = (await chat("no"))["reply"]
    assert (declined["kind"], declined["reason"]) == ("intent", "declined")
    order = await orders_state(orders_api, "LS-10046")
    assert order["status"] == "processing"


async def test_changing_topic_mid_intent_answers_the_new_question(
    chat_as: Callable[..., Any],
) -> None:
    chat = await chat_as("LS-10041")
    assert (await chat("where is my order"))["reply"]["kind"] == "ask"
    answer = (await chat("how long does a refund take?"))["reply"]
    assert answer["kind"] == "answer"
    assert answer["sources"][0]["title"] == "How long does a refund take?"
    # The abandoned question is not asked again.
    assert (await chat("LS-10041"))["reply"]["kind"] != "ask"


@pytest.mark.parametrize(
    "text", ["let me talk to a human", "agent please", "Can I speak to a real person?"]
)
async def test_asking_for_a_person_hands_off_and_the_bot_goes_silent(
    chat: Callable[..., Any], text: str
) -> None:
    reply = (await chat(text))["reply"]
    assert (reply["kind"], reply["handoff_reason"]) == ("handoff", "explicit_request")
    assert await status_of(chat.client, chat.opened) == "queued"
    after = await chat("hello? are you there?")
    assert after["reply"] is None
    assert after["message"]["seq"] == reply["seq"] + 1


async def test_an_angry_customer_is_handed_off(chat: Callable[..., Any]) -> None:
    reply = (
        await chat(
            "This is ridiculous. Third time I'm asking and still no refund, "
            "worst service I've ever had!"
        )
    )["reply"]
    assert (reply["kind"], reply["handoff_reason"]) == ("handoff", "negative_sentiment")
    assert (await chat("hello?"))["reply"] is None


async def test_a_clarify_that_did_not_help_hands_off(chat: Callable[..., Any]) -> None:
    first = (await chat("blorf the quantum zebra sandwich"))["reply"]
    assert first["kind"] == "clarify"
    second = (await chat("flumph wibble nargle"))["reply"]
    assert (second["kind"], second["handoff_reason"]) == ("handoff", "low_confidence")


async def test_repeated_misses_hand_off(chat_as: Callable[..., Any]) -> None:
    chat = await chat_as("LS-10041")
    assert (await chat("where is my order"))["reply"]["kind"] == "ask"
    kinds = [(await chat(text))["reply"] for text in ("hmm", "umm", "err")]
    assert [r["kind"] for r in kinds[:2]] == ["ask", "ask"]
    assert (kinds[2]["kind"], kinds[2]["handoff_reason"]) == ("handoff", "repeated_fallback")


async def test_smalltalk_intents_reply(chat: Callable[..., Any]) -> None:
    # Small talk is built in (kind "smalltalk"); the demo's greeting.yaml customises its reply.
    hello = (await chat("hi there"))["reply"]
    assert (hello["kind"], hello["intent"]) == ("smalltalk", "greeting")
    assert "Larkspur assistant" in hello["text"]
    thanks = (await chat("thanks a lot"))["reply"]
    assert (thanks["kind"], thanks["intent"]) == ("smalltalk", "thanks")


async def test_a_failing_system_hands_off_with_action_failed(
    start_app: Callable[..., Any],
) -> None:
    down = {"orders": IntegrationSettings(base_url=f"http://127.0.0.1:{free_port()}")}
    async with start_app(integrations=down) as client:
        opened = await open_conversation(client, signed(owner_of("LS-10041")))
        response = await ask(client, opened, "where is order LS-10041?")
        reply = response.json()["reply"]
        assert (reply["kind"], reply["handoff_reason"]) == ("handoff", "action_failed")
        assert reply["intent"] == "order_status"
        assert await status_of(client, opened) == "queued"
