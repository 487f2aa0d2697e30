"""Verified customers through the HTTP API: the host site's signature checked when a
conversation opens, the verified customer stored and shown to staff, and the demo's order,
refund, cancel and password-reset intents refused to anonymous visitors before any call
reaches the orders service (checked in that service's own record of the calls it received)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.config import IdentitySettings
from tests.conftest import (
    ORDERS_TOKEN,
    ask,
    open_conversation,
    orders_state,
    owner_of,
    signed,
)

CONVERSATIONS = "/api/v1/conversations"


async def calls_received(orders_api: str) -> list[dict[str, Any]]:
    """Every call the demo orders service received on its business routes so far."""
    auth = {"Authorization": f"Bearer {ORDERS_TOKEN}"}
    async with httpx.AsyncClient() as orders:
        response = await orders.get(f"{orders_api}/state/calls", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def say(client: httpx.AsyncClient, opened: Any, text: str) -> dict[str, Any]:
    response = await ask(client, opened, text)
    assert response.status_code == 201, response.text
    return response.json()["reply"]  # type: ignore[no-any-return]


async def test_a_good_signature_opens_a_verified_conversation_staff_see(
    admin_client: Any,
) -> None:
    client, admin = admin_client
    customer = signed(owner_of("LS-10042"))
    response = await client.post(CONVERSATIONS, json={"customer": customer})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["customer"] == {
        "id": customer["id"],
        "email": "jordan@example.com",
        "name": "Jordan Park",
        "verified": True,
    }
    staff = await client.get(f"/api/v1/agent/conversations/{body['id']}", headers=admin)
    assert staff.status_code == 200, staff.text
    assert staff.json()["customer"] == body["customer"]
    mine = await client.get(
        f"{CONVERSATIONS}/{body['id']}", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert mine.json()["customer_name"] == "Jordan Park"

    anonymous = await open_conversation(client)
    staff = await client.get(f"/api/v1/agent/conversations/{anonymous[0]}", headers=admin)
    assert staff.json()["customer"] is None


async def test_a_wrong_signature_is_refused_and_says_so(client: httpx.AsyncClient) -> None:
    customer = signed(owner_of("LS-10042"), secret="not the secret")
    response = await client.post(CONVERSATIONS, json={"customer": customer})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "identity_refused"
    assert "signature does not match" in error["message"]
    # Another customer's valid signature does not vouch for this id either.
    forged = {**signed(owner_of("LS-10041")), "id": owner_of("LS-10042")["id"]}
    assert (await client.post(CONVERSATIONS, json={"customer": forged})).status_code == 400


async def test_without_a_signature_the_visitor_stays_anonymous(
    admin_client: Any, orders_api: str
) -> None:
    client, admin = admin_client
    claimed = owner_of("LS-10041")  # id, email and name, but unsigned
    response = await client.post(CONVERSATIONS, json={"customer": claimed})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["customer"] is None
    staff = await client.get(f"/api/v1/agent/conversations/{body['id']}", headers=admin)
    assert staff.json()["customer"] is None
    opened = (body["id"], {"Authorization": f"Bearer {body['token']}"})
    before = len(await calls_received(orders_api))
    reply = await say(client, opened, "where is my order LS-10041")
    assert (reply["kind"], reply["reason"]) == ("intent", "needs_verified_customer")
    assert "sign in" in reply["text"]
    assert len(await calls_received(orders_api)) == before


async def test_a_signature_with_no_secret_configured_is_refused(
    start_app: Callable[..., Any],
) -> None:
    async with start_app(identity=IdentitySettings()) as client:
        response = await client.post(CONVERSATIONS, json={"customer": signed(owner_of("LS-10042"))})
        assert response.status_code == 400
        assert "no identity secret" in response.json()["error"]["message"]
        assert (await client.post(CONVERSATIONS)).status_code == 201


@pytest.mark.parametrize(
    ("customer", "field"),
    [
        ({"id": "has spaces", "signature": "0" * 64}, "id"),
        ({"id": "x" * 129, "signature": "0" * 64}, "id"),
        ({"id": "", "signature": "0" * 64}, "id"),
        ({"id": "C-1", "signature": "not hex"}, "signature"),
        ({"id": "C-1", "email": "not an email", "signature": "0" * 64}, "email"),
        ({"id": "C-1", "name": "x" * 201, "signature": "0" * 64}, "name"),
        ({"id": "C-1", "name": "tab\u0007bell", "signature": "0" * 64}, "name"),
        ({"id": "C-1", "role": "admin"}, "role"),
    ],
)
async def test_malformed_identity_fields_get_a_422_naming_the_field(
    client: httpx.AsyncClient, customer: dict[str, str], field: str
) -> None:
    response = await client.post(CONVERSATIONS, json={"customer": customer})
    assert response.status_code == 422, response.text
    assert field in response.text


async def test_anonymous_side_effects_never_reach_the_orders_service(
    client: httpx.AsyncClient, orders_api: str
) -> None:
    before = len(await calls_received(orders_api))
    opened = await open_conversation(client)
    refund = await say(client, opened, "I want to refund order LS-10042")
    assert (refund["kind"], refund["reason"]) == ("intent", "needs_verified_customer")
    assert refund["intent"] == "refund_request"
    assert "sign in to your account" in refund["text"]
    # Refused before anything was asked: no confirmation is pending, "yes" confirms nothing.
    assert (await say(client, opened, "yes"))["reason"] != "confirmed"
    cancel = await say(client, opened, "please cancel order LS-10040")
    assert cancel["reason"] == "needs_verified_customer"
    assert (await say(client, opened, "yes"))["reason"] != "confirmed"
    asked = await say(client, opened, "where is my order?")
    assert asked["reason"] == "needs_verified_customer"  # no order number is asked for
    guessed = await say(client, opened, "LS-10041")  # a bare number: no tracking either
    assert "UPS" not in guessed["text"] and "1Z10041001US" not in guessed["text"]
    reset = await say(client, opened, "I forgot my password")
    assert reset["reason"] == "needs_verified_customer"
    assert "once you're signed in" in reset["text"]  # the intent's own verification_reply

    assert len(await calls_received(orders_api)) == before
    assert "refund" not in await orders_state(orders_api, "LS-10042")
    assert (await orders_state(orders_api, "LS-10040"))["status"] == "processing"


async def test_a_verified_customer_tracks_and_refunds_their_own_order(
    client: httpx.AsyncClient, orders_api: str, database_url: str
) -> None:
    # The orders service lives for the whole run: each database variant refunds its own order.
    order = "LS-10052" if database_url.startswith("sqlite") else "LS-10054"
    customer = owner_of(order)
    opened = await open_conversation(client, signed(customer))
    status = await say(client, opened, f"where is my order {order}?")
    assert (status["kind"], status["intent"]) == ("intent", "order_status")
    assert order in status["text"] and "delivered" in status["text"]

    confirm = await say(client, opened, f"I want a refund for order {order}")
    assert confirm["reason"] == "confirm_needed"
    done = await say(client, opened, "yes")
    assert done["kind"] == "intent" and "is approved" in done["text"]
    refunded = await orders_state(orders_api, order)
    assert refunded["refund"]["id"] in done["text"]
    calls = [c for c in await calls_received(orders_api) if order in c["path"]]
    assert calls and {c["customer_id"] for c in calls} == {customer["id"]}


async def test_another_customers_order_answers_as_unknown(
    client: httpx.AsyncClient, orders_api: str
) -> None:
    opened = await open_conversation(client, signed(owner_of("LS-10041")))  # Sam
    status = await say(client, opened, "where is my order LS-10040?")  # Alex's
    assert status["kind"] == "intent"
    assert "couldn't find an order numbered LS-10040" in status["text"]
    unknown = await say(client, opened, "what's the status of order LS-99999")
    assert status["text"].replace("LS-10040", "N") == unknown["text"].replace("LS-99999", "N")

    assert (await say(client, opened, "refund order LS-10042 please"))["reason"] == (
        "confirm_needed"
    )
    refused = await say(client, opened, "yes")
    assert "couldn't find an order numbered LS-10042" in refused["text"]
    assert "refund" not in await orders_state(orders_api, "LS-10042")


async def test_try_shows_the_intent_needs_a_verified_customer(
    admin_client: Any, orders_api: str
) -> None:
    client, admin = admin_client
    before = len(await calls_received(orders_api))
    response = await client.post(
        "/api/v1/admin/try", json={"text": "refund order LS-10042 please"}, headers=admin
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["reply"]["reason"] == "needs_verified_customer"
    assert result["decision"]["needs_verified_customer"] is True
    assert result["decision"]["instead_of"] == "confirm"
    assert "sign in" in result["reply"]["text"]
    assert len(await calls_received(orders_api)) == before
