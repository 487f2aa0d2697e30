"""The demo page and its widget in a real browser (Debian's Chromium through Playwright),
against the real service started as a user starts it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO

CHROMIUM = os.environ.get("SWITCHBOARD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SWITCHBOARD_DATA_DIR": str(data_dir), "SWITCHBOARD_LOG_LEVEL": "warning"}
    env.pop("SWITCHBOARD_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)], cwd=REPO, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("service did not become ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


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
