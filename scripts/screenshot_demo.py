"""Takes the README's screenshots of the demo store, the agent console and the admin console.

Starts the service (`python -m app serve`) on loopback with a fresh data folder and a first admin
account, and drives Debian's Chromium through Playwright:

- the demo page: asks the bot questions through the widget and saves
  `docs/screenshots/demo-desktop.png` and `docs/screenshots/demo-phone.png`;
- the agent console (/agent): the admin creates the agent Alice and two customers ask for a
  person through the API; Alice signs in, claims one conversation and types a reply, and the
  page is saved as `docs/screenshots/agent-console.png`;
- the admin console (/admin): the admin opens an article in the editor (with its preview) for
  `docs/screenshots/admin-console.png` and then the dashboard for
  `docs/screenshots/admin-dashboard.png`.

The script fails when a page logs an error or shows an error message.

Run from the repo root: `python scripts/screenshot_demo.py [--chromium /usr/bin/chromium]`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts.servicekit import CHROMIUM_ARGS, agent_account, bearer, fresh_service  # noqa: E402

OUT = REPO_ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "screenshot admin password"
AGENT_EMAIL = "alice@example.com"
AGENT_PASSWORD = "alice screenshot password"
HANDOFFS = [
    "I want to talk to a human, my parcel never arrived",
    "This is ridiculous, I have been waiting two weeks for my refund. Get me a real person now!",
]
ARTICLE_TITLE = "How long does a refund take?"
AGENT_REPLY = (
    "Hi, I'm Alice from the support team. Sorry your parcel hasn't turned up! "
    "Could you tell me your order number so I can check with the courier?"
)


class Watch:
    """Collects a page's console errors and uncaught exceptions."""

    def __init__(self, page: Page, name: str) -> None:
        self.name = name
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url', '')})")

    def check(self) -> None:
        """Fail when the page logged an error."""
        if self.errors:
            raise RuntimeError(f"{self.name} logged errors: {self.errors}")


def chat(page: Page, questions: list[str]) -> None:
    """Open the widget and ask `questions`, waiting for each reply."""
    page.get_by_role("button", name="Open chat").click()
    box = page.get_by_role("textbox", name="message")
    for number, question in enumerate(questions, start=1):
        box.fill(question)
        box.press("Enter")
        page.locator("#switchboard-widget .msg.bot").nth(number).wait_for(timeout=15_000)


def demo_store(browser: Browser, base_url: str) -> None:
    """The demo page with the widget, on a desktop and on a phone."""
    desktop = browser.new_page(viewport=DESKTOP)
    desktop.goto(f"{base_url}/")
    chat(desktop, ["how long until I get my refund?", "what's the weather on mars"])
    desktop.screenshot(path=str(OUT / "demo-desktop.png"))
    desktop.close()
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{base_url}/")
    chat(phone, ["can I pay with Klarna?"])
    phone.screenshot(path=str(OUT / "demo-phone.png"))
    phone.close()


def seed(base_url: str) -> None:
    """The admin creates the agent Alice; two customers ask for a person."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        login = client.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        login.raise_for_status()
        admin = bearer(login.json()["token"])
        client.post(
            "/api/v1/admin/users",
            headers=admin,
            json=agent_account(AGENT_EMAIL, AGENT_PASSWORD, "Alice"),
        ).raise_for_status()
        for text in HANDOFFS:
            opened = client.post("/api/v1/conversations")
            opened.raise_for_status()
            conversation: dict[str, Any] = opened.json()
            sent = client.post(
                f"/api/v1/conversations/{conversation['id']}/messages",
                headers=bearer(conversation["token"]),
                json={"text": text},
            )
            sent.raise_for_status()
            kind = sent.json()["reply"]["kind"]
            if kind != "handoff":
                raise RuntimeError(f"{text!r} got a {kind!r} reply, not a handoff")


def signed_in(
    browser: Browser, url: str, name: str, email: str, password: str
) -> tuple[Page, Watch]:
    """A desktop page on the console at `url` (`name` in error messages), watched, signed in."""
    page = browser.new_page(viewport=DESKTOP)
    watch = Watch(page, name)
    page.goto(url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    return page, watch


def agent_console(browser: Browser, base_url: str) -> None:
    """Alice signs in, claims the parcel conversation and types a reply."""
    page, watch = signed_in(
        browser, f"{base_url}/agent", "the agent console", AGENT_EMAIL, AGENT_PASSWORD
    )
    expect(page.locator("#connection")).to_have_text("Live", timeout=15_000)
    queue = page.locator("#queue")
    expect(queue.locator("li.queue-item")).to_have_count(len(HANDOFFS), timeout=15_000)
    item = queue.locator("li", has_text="my parcel never arrived")
    item.get_by_role("button", name="Claim").click()
    expect(page.locator("#conv-status")).to_contain_text("assigned to you", timeout=15_000)
    expect(page.get_by_role("log", name="Messages")).to_contain_text("my parcel never arrived")
    expect(page.locator("#assist .assist-item, #assist li").first).to_be_visible(timeout=15_000)
    reply = page.get_by_label("Reply to the customer")
    reply.click()
    reply.press_sequentially(AGENT_REPLY)
    page.wait_for_load_state("networkidle")
    expect(page.locator("#toast")).to_be_hidden()
    page.screenshot(path=str(OUT / "agent-console.png"))
    watch.check()
    page.close()


def admin_console(browser: Browser, base_url: str) -> None:
    """The admin opens an article in the editor, then the dashboard."""
    page, watch = signed_in(
        browser, f"{base_url}/admin", "the admin console", ADMIN_EMAIL, ADMIN_PASSWORD
    )
    expect(page.get_by_role("heading", name="Articles", exact=True)).to_be_visible()
    page.get_by_role("searchbox", name="Search").fill(ARTICLE_TITLE)
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("#articles table.list").get_by_role(
        "button", name=ARTICLE_TITLE, exact=True
    ).click()
    expect(page.get_by_label("Title", exact=True)).to_have_value(ARTICLE_TITLE)
    preview = page.locator("#article-preview")
    expect(preview.locator("p").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#articles .notice[data-kind='error']")).to_have_count(0)
    page.evaluate("window.scrollTo(0, 0)")  # opening the article scrolled the header away
    page.screenshot(path=str(OUT / "admin-console.png"))

    page.get_by_role("link", name="Dashboard").click()
    dashboard = page.locator("#dashboard")
    expect(dashboard.locator(".dash-kpis")).to_be_visible(timeout=15_000)
    page.wait_for_load_state("networkidle")
    expect(dashboard.get_by_role("alert")).to_be_hidden()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(OUT / "admin-dashboard.png"))
    watch.check()
    page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="browser executable")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    admin = {"SWITCHBOARD_ADMIN_EMAIL": ADMIN_EMAIL, "SWITCHBOARD_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with fresh_service(admin, prefix="switchboard-shot-") as service:
        base_url = service.url
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            demo_store(browser, base_url)
            seed(base_url)
            agent_console(browser, base_url)
            admin_console(browser, base_url)
            browser.close()
    names = ["demo-desktop", "demo-phone", "agent-console", "admin-console", "admin-dashboard"]
    print("saved " + ", ".join(str(OUT / f"{name}.png") for name in names))


if __name__ == "__main__":
    main()
