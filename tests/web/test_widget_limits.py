"""The widget over a limit on abuse, in a real browser: a 429 is shown as a calm request to
wait the server's `Retry-After`, not as a failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.servicekit import CHROMIUM_ARGS
from tests.web.conftest import CHROMIUM, needs_chromium, served

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def limited_url(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path, seeded_index: Path
) -> Iterator[str]:
    with served(
        tmp_path_factory,
        model_cache,
        seeded_index,
        name="limited",
        admin_email="admin@example.com",
        admin_password="admin password 1",
        env={
            "SWITCHBOARD_RATE_LIMITS__ENABLED": "true",
            "SWITCHBOARD_RATE_LIMITS__MESSAGES_PER_CONVERSATION": "1/minute",
        },
    ) as url:
        yield url


def test_a_429_asks_calmly_to_wait(limited_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(limited_url)
        page.get_by_role("button", name="chat").click()
        box = page.get_by_role("textbox", name="message")
        box.fill("how long until I get my refund?")
        box.press("Enter")
        expect(page.locator("#switchboard-widget .msg.bot").nth(1)).to_contain_text(
            "5-7 business days", timeout=15_000
        )
        box.fill("and for an exchange?")
        box.press("Enter")
        alert = page.locator("#switchboard-widget .error")
        expect(alert).to_be_visible(timeout=15_000)
        expect(alert).to_contain_text("Please wait")
        expect(alert).to_contain_text("seconds, then send it again")
        expect(alert).not_to_contain_text("429")
        browser.close()
