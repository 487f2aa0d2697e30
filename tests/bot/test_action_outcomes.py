"""Side effects with unknown outcomes, and slot values that must not change the request.

Runs against a real demo orders service started with its test controls: it can carry out the
next changes and answer them late (a back office that stalls after committing), and report the
raw paths it received. The intents are this file's own (a refund with a short timeout for a
verified customer, as the demo orders service checks who owns the order, and a lookup by a
free-text reference), in a folder of the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servicekit import free_port, start_orders_api, stop_server

from app.config import IntegrationSettings
from tests.conftest import (
    ADMIN,
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ORDERS_TOKEN,
    Opened,
    ask,
    login,
    open_conversation,
    owner_of,
    signed,
)

AUTH = {"Authorization": f"Bearer {ORDERS_TOKEN}"}

REFUND = """
name: refund_now
description: Refund an order (test intent with a short timeout).
examples:
  - I want a refund for my order
  - please refund my order
  - refund order LS-10042 please
  - give me my money back for my order
slots:
  order_number:
    type: order_number
    prompt: Which order should I refund?
requires_verified_customer: true
confirm: Shall I refund order {{ slots.order_number }}? (yes / no)
action:
  type: http
  integration: orders
  method: POST
  path: /orders/{{ slots.order_number }}/refunds
  headers:
    X-Customer-Id: "{{ customer.id }}"
  body:
    reason: requested in chat
  timeout: 0.5
  retries: 2
  reply: Done, refund {{ response.id }} is approved.
  replies:
    409: I can't refund order {{ slots.order_number }}.
"""

LOOKUP = """
name: lookup_reference
description: Look up a record by a free-text reference (test intent).
examples:
  - look up my reference
  - find the record for my reference
  - check my reference code
slots:
  ref:
    type: text
    prompt: What is the reference?
action:
  type: http
  integration: orders
  method: GET
  path: /orders/{{ slots.ref }}
  headers:
    X-Reference: "{{ slots.ref }}"
  reply: Found order {{ response.number }}.
  replies:
    404: I found no record for that reference.
"""


@pytest.fixture
def stalling_orders() -> Iterator[str]:
    """A demo orders service of this test's own, with its test controls (each test, and each
    database variant of it, refunds the same orders afresh)."""
    port = free_port()
    process = start_orders_api(port, token=ORDERS_TOKEN, test_controls=True)
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


@pytest.fixture
def intents_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "intents"
    folder.mkdir()
    (folder / "refund_now.yaml").write_text(REFUND, encoding="utf-8")
    (folder / "lookup_reference.yaml").write_text(LOOKUP, encoding="utf-8")
    return folder


@pytest.fixture
async def client(
    start_app: Callable[..., Any], intents_dir: Path, stalling_orders: str
) -> AsyncIterator[httpx.AsyncClient]:
    orders = IntegrationSettings(base_url=stalling_orders, headers=AUTH)
    async with start_app(intents_dir=intents_dir, integrations={"orders": orders}, **ADMIN) as c:
        yield c


def _stall(base: str, seconds: float, count: int) -> None:
    response = httpx.post(
        f"{base}/_test/stall", json={"seconds": seconds, "count": count}, headers=AUTH
    )
    assert response.status_code == 200, response.text


def _seen(base: str) -> list[str]:
    return httpx.get(f"{base}/_test/seen", headers=AUTH).json()  # type: ignore[no-any-return]


def _order(base: str, number: str) -> dict[str, Any]:
    state = httpx.get(f"{base}/state/orders/{number}", headers=AUTH)
    return state.json()  # type: ignore[no-any-return]


async def _say(client: httpx.AsyncClient, opened: Opened, text: str) -> dict[str, Any]:
    response = await ask(client, opened, text)
    assert response.status_code == 201, response.text
    return response.json()["reply"]  # type: ignore[no-any-return]


async def _confirm_refund(client: httpx.AsyncClient, number: str) -> tuple[Opened, dict[str, Any]]:
    opened = await open_conversation(client, signed(owner_of(number)))
    asked = await _say(client, opened, f"refund order {number} please")
    assert asked["intent"] == "refund_now" and asked["kind"] == "ask", asked
    return opened, await _say(client, opened, "yes")


async def test_an_unanswered_change_is_checked_again_with_the_same_key_and_found_done(
    client: httpx.AsyncClient, stalling_orders: str
) -> None:
    _stall(stalling_orders, seconds=3.0, count=1)  # carried out, answered after the timeout
    _, reply = await _confirm_refund(client, "LS-10044")
    assert reply["kind"] == "intent", reply
    assert reply["text"].startswith("Done, refund RF-"), reply
    refund = _order(stalling_orders, "LS-10044")["refund"]
    assert refund["id"] in reply["text"]  # the first attempt's refund: paid once, not twice
    posts = [p for p in _seen(stalling_orders) if p == "POST /orders/LS-10044/refunds"]
    assert len(posts) == 2


async def test_a_change_that_stays_unanswered_is_unknown_not_failed(
    client: httpx.AsyncClient, stalling_orders: str
) -> None:
    _stall(stalling_orders, seconds=3.0, count=100)
    try:
        opened, reply = await _confirm_refund(client, "LS-10047")
    finally:
        _stall(stalling_orders, seconds=0.0, count=0)
    assert reply["kind"] == "handoff", reply
    assert reply["handoff_reason"] == "action_outcome_unknown"
    assert "may already have gone through" in reply["text"]
    assert "couldn't complete" not in reply["text"]
    # It did go through: the customer was not told it failed.
    assert _order(stalling_orders, "LS-10047")["refund"]["status"] == "approved"

    admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    view = await client.get(f"/api/v1/agent/conversations/{opened[0]}", headers=admin)
    assert view.status_code == 200, view.text
    shown = str(view.json())
    assert "outcome unknown" in shown and "check before retrying" in shown
    messages = await client.get(f"/api/v1/agent/conversations/{opened[0]}/messages", headers=admin)
    actions = [m["meta"].get("action") for m in messages.json()["messages"] if m["meta"]]
    assert {"outcome": "unknown"}.items() <= next(a for a in actions if a).items()


async def test_a_change_that_never_left_failed(
    start_app: Callable[..., Any], intents_dir: Path
) -> None:
    nobody = IntegrationSettings(base_url=f"http://127.0.0.1:{free_port()}", headers=AUTH)
    async with start_app(intents_dir=intents_dir, integrations={"orders": nobody}) as client:
        _, reply = await _confirm_refund(client, "LS-10050")
    assert reply["kind"] == "handoff", reply
    assert reply["handoff_reason"] == "action_failed"


async def test_a_slot_value_stays_inside_its_path_segment(
    client: httpx.AsyncClient, stalling_orders: str
) -> None:
    before = _seen(stalling_orders)
    opened = await open_conversation(client)
    asked = await _say(client, opened, "look up my reference")
    assert asked["intent"] == "lookup_reference" and asked["kind"] == "ask", asked
    reply = await _say(client, opened, "x/../../healthz")
    assert reply["text"] == "I found no record for that reference.", reply
    new = _seen(stalling_orders)[len(before) :]
    assert new == ["GET /orders/x%2F..%2F..%2Fhealthz"]


@pytest.mark.parametrize("value", ["abc\r\nX-Evil: 1", "..", "line\nbreak"])
async def test_a_value_that_cannot_form_a_request_fails_the_action_cleanly(
    client: httpx.AsyncClient, stalling_orders: str, value: str
) -> None:
    before = _seen(stalling_orders)
    opened = await open_conversation(client)
    await _say(client, opened, "look up my reference")
    reply = await _say(client, opened, value)
    assert reply["kind"] == "handoff", reply
    assert reply["handoff_reason"] == "action_failed"
    assert _seen(stalling_orders)[len(before) :] == []  # nothing was sent
