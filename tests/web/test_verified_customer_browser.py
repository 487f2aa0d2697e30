"""A signed-in demo customer in a real browser (Debian's Chromium through Playwright): the demo
page signs in through the shop's back office (the demo orders service, which holds the identity
secret), loads the widget with the data-customer-* attributes, and the customer checks and
refunds their own order in the chat; signed out, the page opens a new, anonymous conversation
and the same request is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.servicekit import CHROMIUM_ARGS
from tests.conftest import IDENTITY_SECRET, ORDERS_TOKEN
from tests.web.conftest import CHROMIUM, needs_chromium, served

pytestmark = needs_chromium
ORDER = "LS-10053"  # Sam Okafor's delivered order: refunded by this test only


def order_now(orders_api: str, number: str) -> dict[str, Any]:
    """The order as the demo orders service holds it now (its back-office view)."""
    response = httpx.get(
        f"{orders_api}/state/orders/{number}", headers={"Authorization": f"Bearer {ORDERS_TOKEN}"}
    )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def shop_url(
    tmp_path_factory: pytest.TempPathFactory,
    model_cache: Path,
    seeded_index: Path,
    orders_api: str,
) -> Iterator[str]:
    integrations = {
        "orders": {"base_url": orders_api, "headers": {"Authorization": f"Bearer {ORDERS_TOKEN}"}}
    }
    with served(
        tmp_path_factory,
        model_cache,
        seeded_index,
        name="verified",
        admin_email="admin@example.com",
        admin_password="admin password 1",
        env={
            "SWITCHBOARD_IDENTITY__SECRET": IDENTITY_SECRET,
            "SWITCHBOARD_INTEGRATIONS": json.dumps(integrations),
            "SWITCHBOARD_DEMO_SHOP_URL": orders_api,
        },
    ) as url:
        yield url


def test_a_signed_in_customer_checks_and_refunds_their_own_order(
    shop_url: str, orders_api: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    stored_key = f"switchboard:{shop_url}:conversation"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{shop_url}/?shop={orders_api}")
        page.get_by_label("Demo customer").select_option("C-2002")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#signed-in-as")).to_contain_text("Sam Okafor", timeout=15_000)
        expect(page.locator("#account")).to_contain_text(ORDER)

        page.get_by_role("button", name="chat").click()
        box = page.get_by_role("textbox", name="message")
        bots = page.locator("#switchboard-widget .msg.bot")
        box.fill(f"where is my order {ORDER}?")
        box.press("Enter")
        expect(bots.nth(1)).to_contain_text("delivered", timeout=15_000)
        box.fill(f"I want a refund for order {ORDER}")
        box.press("Enter")
        expect(bots.nth(2)).to_contain_text(f"Shall I refund order {ORDER}", timeout=15_000)
        box.fill("yes")
        box.press("Enter")
        expect(bots.nth(3)).to_contain_text("is approved", timeout=15_000)
        refund = order_now(orders_api, ORDER)["refund"]
        expect(bots.nth(3)).to_contain_text(refund["id"])
        signed_in = json.loads(page.evaluate(f"localStorage.getItem('{stored_key}')"))

        # Signed out: the stored conversation of Sam is not reused, and nothing runs.
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=15_000)
        page.get_by_role("button", name="chat").click()
        expect(page.locator("#switchboard-widget .msg.customer")).to_have_count(0)
        box = page.get_by_role("textbox", name="message")
        box.fill("cancel order LS-10048 please")
        box.press("Enter")
        expect(page.locator("#switchboard-widget .msg.bot").nth(1)).to_contain_text(
            "sign in to your account", timeout=15_000
        )
        anonymous = json.loads(page.evaluate(f"localStorage.getItem('{stored_key}')"))
        assert anonymous["id"] != signed_in["id"]
        assert order_now(orders_api, "LS-10048")["status"] == "processing"
        browser.close()
