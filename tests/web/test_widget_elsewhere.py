"""The widget embedded on another site, as a business embeds it: a page served from another
origin, with its own strict Content-Security-Policy (no inline style or script; scripts and
connections allowed to the service only), loads `/widget.js` from the service, and a customer
asks a question and gets the answer. The service's CORS opens its customer routes to that
origin; its staff routes stay closed to it."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.servicekit import CHROMIUM_ARGS, free_port
from tests.web.conftest import CHROMIUM, needs_chromium, served

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def service_url(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path, seeded_index: Path
) -> Iterator[str]:
    with served(
        tmp_path_factory,
        model_cache,
        seeded_index,
        name="elsewhere",
        admin_email="admin@example.com",
        admin_password="admin password 1",
    ) as url:
        yield url


@pytest.fixture(scope="module")
def other_site(tmp_path_factory: pytest.TempPathFactory, service_url: str) -> Iterator[str]:
    """A shop's page on another origin (its own static server) that embeds the widget."""
    folder = tmp_path_factory.mktemp("other-site")
    ws_url = service_url.replace("http://", "ws://")
    policy = (
        f"default-src 'self'; script-src 'self' {service_url}; "
        f"connect-src {service_url} {ws_url}; style-src 'self'; img-src 'self' data:"
    )
    (folder / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        "<link rel='icon' href='data:,'><title>Another shop</title></head>"
        "<body><h1>Another shop</h1>"
        f'<script src="{service_url}/widget.js" data-title="Help"></script>'
        "</body></html>",
        encoding="utf-8",
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_customer_on_another_site_asks_in_the_widget(service_url: str, other_site: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
        page.goto(f"{other_site}/index.html")
        page.get_by_role("button", name="chat").click()
        box = page.get_by_role("textbox", name="message")
        box.fill("do you ship to canada?")
        box.press("Enter")
        expect(page.locator("#switchboard-widget .msg.bot").nth(1)).to_contain_text(
            "Canada", timeout=20_000
        )
        browser.close()
    assert problems == []


def test_the_other_site_may_call_customer_routes_but_not_staff_routes(
    service_url: str, other_site: str
) -> None:
    origin = {"Origin": other_site}
    opened = httpx.post(f"{service_url}/api/v1/conversations", headers=origin)
    assert opened.status_code == 201
    assert opened.headers.get("access-control-allow-origin") in ("*", other_site)
    login = httpx.post(
        f"{service_url}/api/v1/auth/login",
        json={"email": "admin@example.com", "password": "admin password 1"},
        headers=origin,
    )
    assert login.status_code == 200
    assert "access-control-allow-origin" not in login.headers
