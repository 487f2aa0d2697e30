"""The Content-Security-Policy in a real browser (Debian's Chromium through Playwright), against
`python -m app serve`: the demo page with its widget, the agent and admin consoles signed in,
and the API reference (/docs, /redoc) all work with no CSP violation and no console error;
and the served process applies the transport limits (an oversized header block gets 431)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.servicekit import CHROMIUM_ARGS
from tests.web.conftest import CHROMIUM, needs_chromium, served

ADMIN = {"email": "policy-admin@example.com", "password": "policy admin password"}
# Every violation the page reports, gathered from the first moment of each document.
WATCH = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation', e => window.__violations.push("
    "`${e.violatedDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`));"
)

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def server_url(
    tmp_path_factory: pytest.TempPathFactory,
    model_cache: Path,
    seeded_index: Path,
    orders_api: str,
) -> Iterator[str]:
    with served(
        tmp_path_factory,
        model_cache,
        seeded_index,
        name="policy",
        env={"SWITCHBOARD_DEMO_SHOP_URL": orders_api},  # the demo page signs in there
        admin_email=ADMIN["email"],
        admin_password=ADMIN["password"],
    ) as url:
        yield url


class Watched:
    """A page whose CSP violations, console errors and uncaught exceptions are collected."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page()
        self.errors: list[str] = []
        self.page.add_init_script(WATCH)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def problems(self) -> list[str]:
        return [*self.page.evaluate("window.__violations"), *self.errors]


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def ask_in_widget(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="chat").click()
    box = page.get_by_role("textbox", name="message")
    box.fill("how long until I get my refund?")
    box.press("Enter")
    answer = page.locator("#switchboard-widget .msg.bot").nth(1)
    expect(answer).to_contain_text("5-7 business days", timeout=15_000)
    # The widget's constructed style sheet applies under style-src 'self'.
    launcher = page.locator("#switchboard-widget .launcher")
    assert launcher.evaluate("el => getComputedStyle(el).position") == "fixed"


def test_the_demo_page_and_its_widget_run_under_the_policy(server_url: str, browser: Any) -> None:
    watched = Watched(browser)
    response = watched.page.goto(server_url)
    assert "script-src 'self';" in response.headers["content-security-policy"]
    ask_in_widget(watched.page)
    # The live stream (connect-src 'self' covers ws: to this origin) is open.
    watched.page.wait_for_function(
        "() => document.querySelector('#switchboard-widget').shadowRoot"
        ".querySelector('.conn').hidden"
    )
    assert watched.problems() == []


def sign_in(page: Any, path: str, server_url: str) -> None:
    page.goto(f"{server_url}{path}")
    page.get_by_label("Email").fill(ADMIN["email"])
    page.get_by_label("Password").fill(ADMIN["password"])
    page.get_by_role("button", name="Sign in").click()


def test_the_consoles_run_under_the_policy(server_url: str, browser: Any) -> None:
    from playwright.sync_api import expect

    agent = Watched(browser)
    sign_in(agent.page, "/agent", server_url)
    expect(agent.page.locator("#connection")).to_have_text("Live", timeout=10_000)
    assert agent.problems() == []

    admin = Watched(browser)
    sign_in(admin.page, "/admin", server_url)
    expect(admin.page.get_by_role("heading", name="Articles", exact=True)).to_be_visible()
    for section in ("dashboard", "gaps", "users", "transfer", "try"):
        admin.page.goto(f"{server_url}/admin#{section}")
        expect(admin.page.locator(f"#{section}")).to_be_visible()
        admin.page.wait_for_load_state("networkidle")
    assert admin.problems() == []


def test_the_api_reference_runs_under_its_policy(server_url: str, browser: Any) -> None:
    from playwright.sync_api import expect

    swagger = Watched(browser)
    swagger.page.goto(f"{server_url}/docs")
    expect(swagger.page.locator(".swagger-ui .info .title")).to_contain_text(
        "Switchboard", timeout=15_000
    )
    expect(swagger.page.locator(".opblock").first).to_be_visible()
    swagger.page.locator(".opblock-summary").first.click()
    expect(swagger.page.locator(".opblock-body").first).to_be_visible()
    assert swagger.problems() == []

    redoc = Watched(browser)
    redoc.page.goto(f"{server_url}/redoc")
    expect(redoc.page.locator("h1", has_text="Switchboard")).to_be_visible(timeout=15_000)
    expect(redoc.page.get_by_text("conversations", exact=False).first).to_be_visible()
    # ReDoc's bundle links its makers' logo from their CDN; the policy keeps it out (an offline
    # host could not fetch it either). Nothing else is refused.
    logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    assert [p for p in redoc.problems() if logo not in p] == []
    assert all(logo in p for p in redoc.page.evaluate("window.__violations"))


def test_the_served_process_refuses_an_oversized_header_block(server_url: str) -> None:
    host, port = server_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 40_000)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 ")
