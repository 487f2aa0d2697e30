"""The demo page and its widget in a real browser (Debian's Chromium through Playwright),
against the real service started as a user starts it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.servicekit import CHROMIUM_ARGS, free_port, start_server, stop_server

CHROMIUM = os.environ.get("SWITCHBOARD_TEST_CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no browser at {CHROMIUM} (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def server_url(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path, seeded_index: Path
) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    shutil.copytree(seeded_index, data_dir / "index")
    (data_dir / "models").mkdir()
    for exported in model_cache.iterdir():
        (data_dir / "models" / exported.name).symlink_to(exported)
    port = free_port()
    process, _, _ = start_server(data_dir, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


def test_customer_asks_in_the_widget_and_the_conversation_survives_a_reload(
    server_url: str,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(server_url)
        page.get_by_role("button", name="chat").click()
        box = page.get_by_role("textbox", name="message")
        box.fill("how long until I get my refund?")
        box.press("Enter")
        answer = page.locator("#switchboard-widget .msg.bot").nth(1)
        expect(answer).to_contain_text("5-7 business days", timeout=15_000)
        expect(answer).to_contain_text("Source: How long does a refund take?")

        box.fill("<img src=x onerror=alert(1)> what is the boiling point of tungsten on mars")
        box.press("Enter")
        unsure = page.locator("#switchboard-widget .msg.bot").nth(2)
        expect(unsure).to_be_visible(timeout=15_000)
        # the customer's text is shown as text, never parsed as HTML
        expect(page.locator("#switchboard-widget .msg.customer").nth(1)).to_contain_text(
            "<img src=x onerror=alert(1)>"
        )
        assert page.locator("#switchboard-widget img").count() == 0

        page.reload()
        page.get_by_role("button", name="chat").click()
        expect(page.locator("#switchboard-widget .msg.customer")).to_have_count(2)
        expect(page.locator("#switchboard-widget .msg.bot").nth(1)).to_contain_text(
            "5-7 business days"
        )
        browser.close()


def test_a_stale_stored_conversation_is_replaced_and_double_sends_share_one(
    server_url: str,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    stale = '{"id": "gone-conversation", "token": "not-a-token"}'
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.add_init_script(  # seeds the stale conversation on the first load only
            "if (!sessionStorage.getItem('seeded')) {"
            f" localStorage.setItem('switchboard:{server_url}:conversation', '{stale}');"
            " sessionStorage.setItem('seeded', '1'); }"
        )
        page.goto(server_url)
        page.get_by_role("button", name="chat").click()
        box = page.get_by_role("textbox", name="message")
        box.fill("do you ship to Canada?")
        box.press("Enter")
        box.fill("can I pay with Klarna?")
        box.press("Enter")
        bots = page.locator("#switchboard-widget .msg.bot")
        expect(bots).to_have_count(3, timeout=15_000)  # greeting + two answers
        stored = page.evaluate(f"localStorage.getItem('switchboard:{server_url}:conversation')")
        assert "gone-conversation" not in stored
        page.reload()
        page.get_by_role("button", name="chat").click()
        expect(page.locator("#switchboard-widget .msg.customer")).to_have_count(2)
        browser.close()
