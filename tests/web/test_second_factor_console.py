"""Two-step sign-in in the admin console, in a real browser (Debian's Chromium through
Playwright) against the real service: an admin who enrolled a second factor types the password,
is asked for the code, types the code of their authenticator app and reaches the console; the
enrolment panel shows a secret and its otpauth:// URI as text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from scripts.servicekit import CHROMIUM_ARGS
from tests.web.conftest import CHROMIUM, needs_chromium, served

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "two step console password"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def server_url(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path, seeded_index: Path
) -> Iterator[str]:
    with served(
        tmp_path_factory,
        model_cache,
        seeded_index,
        name="second-factor-console",
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
    ) as url:
        yield url


@pytest.fixture
def page(server_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        errors: list[str] = []
        page = chromium.new_page()
        page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
        yield page
        chromium.close()
        assert errors == []


def test_an_enrolled_admin_signs_in_with_a_code(server_url: str, page: Any) -> None:
    from playwright.sync_api import expect

    # Enrol through the console's own panel: sign in, open "Two-step sign-in".
    page.goto(f"{server_url}/admin")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Articles", exact=True)).to_be_visible()
    page.get_by_role("button", name="Two-step sign-in").click()
    secret = page.locator("#totp-secret").inner_text(timeout=30_000)
    assert page.locator("#totp-uri").inner_text().startswith("otpauth://totp/")
    page.get_by_label("Code the app shows now").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_text("Two-step sign-in is on")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # The password alone now asks for the code (the users section, hidden, has fields too).
    page.locator("#login-email").fill(ADMIN_EMAIL)
    page.locator("#login-password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    code_field = page.get_by_label("One-time code")
    expect(code_field).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text("one-time code")
    expect(code_field).to_be_focused()
    # The next step's code (this step's was spent confirming; one step of drift is accepted).
    code_field.fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Articles", exact=True)).to_be_visible()

    # The API agrees: the account now needs the code.
    answer = httpx.post(
        f"{server_url}/api/v1/auth/login",
        json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
    )
    assert answer.status_code == 401 and answer.json()["error"]["second_factor"] == "required"
