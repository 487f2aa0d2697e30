"""The agent console (/agent) in a real browser (Debian's Chromium through Playwright), against
the real service: an agent signs in, sees a handoff arrive, claims it, replies, sees the
customer's next message live, and resolves; the page passes an axe-core audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.servicekit import CHROMIUM_ARGS
from tests.web.conftest import CHROMIUM, inject_axe, needs_chromium, served

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin password 1"
AGENT_EMAIL = "alice@example.com"
AGENT_PASSWORD = "alice password 1"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def server_url(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path, seeded_index: Path
) -> Iterator[str]:
    with served(
        tmp_path_factory,
        model_cache,
        seeded_index,
        name="agent-console",
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
    ) as url:
        yield url


@pytest.fixture(scope="module")
def agents(server_url: str) -> dict[str, dict[str, Any]]:
    """Two agent accounts created by the admin (from settings) through the API, and a canned
    response to insert."""
    with httpx.Client(base_url=server_url, timeout=30) as client:
        login = client.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        admin = {"Authorization": f"Bearer {login.json()['token']}"}
        created = client.post(
            "/api/v1/admin/users",
            headers=admin,
            json={
                "email": AGENT_EMAIL,
                "password": AGENT_PASSWORD,
                "name": "Alice",
                "role": "agent",
            },
        )
        assert created.status_code == 201, created.text
        bob = client.post(
            "/api/v1/admin/users",
            headers=admin,
            json={
                "email": "bob@example.com",
                "password": "bob password 1",
                "name": "Bob",
                "role": "agent",
            },
        )
        assert bob.status_code == 201, bob.text
        canned = client.post(
            "/api/v1/admin/canned",
            headers=admin,
            json={"shortcut": "thanks", "title": "Thanks", "text": "Thanks for your patience!"},
        )
        assert canned.status_code == 201, canned.text
        return {"alice": created.json(), "bob": bob.json()}


class Customer:
    """A customer talking to the API directly (as the widget would)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        opened = client.post("/api/v1/conversations")
        assert opened.status_code == 201, opened.text
        self.id = opened.json()["id"]
        self.headers = {"Authorization": f"Bearer {opened.json()['token']}"}

    def say(self, text: str) -> dict[str, Any]:
        sent = self.client.post(
            f"/api/v1/conversations/{self.id}/messages", headers=self.headers, json={"text": text}
        )
        assert sent.status_code == 201, sent.text
        return sent.json()

    def messages(self) -> list[dict[str, Any]]:
        page = self.client.get(
            f"/api/v1/conversations/{self.id}/messages?after=0", headers=self.headers
        )
        assert page.status_code == 200, page.text
        return page.json()["messages"]

    def view(self) -> dict[str, Any]:
        return self.client.get(f"/api/v1/conversations/{self.id}", headers=self.headers).json()


def serious_violations(page: Any) -> list[str]:
    inject_axe(page)
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_agent_claims_replies_sees_the_customer_live_and_resolves(
    server_url: str, agents: dict[str, dict[str, Any]]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with (
        httpx.Client(base_url=server_url, timeout=30) as client,
        sync_playwright() as playwright,
    ):
        customer = Customer(client)
        handoff = customer.say("I want to talk to a human")
        assert handoff["reply"]["kind"] == "handoff"

        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on(
            "console",
            lambda m: errors.append(f"{m.text} {m.location['url']}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server_url}/agent")

        assert serious_violations(page) == []  # the sign-in form

        page.get_by_label("Email").fill(AGENT_EMAIL)
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#login-error")).to_contain_text("password")  # the server's message
        assert len(errors) == 1 and "401" in errors[0]  # the browser logs the refused sign-in
        errors.clear()
        page.get_by_label("Password").fill(AGENT_PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        expect(page.locator("#connection")).to_have_text("Live", timeout=10_000)
        queue = page.locator("#queue")
        item = queue.locator("li", has_text="I want to talk to a human")
        expect(item).to_be_visible(timeout=10_000)
        expect(item).to_contain_text("Asked for a person")  # the handoff reason
        expect(item).to_contain_text("Sentiment:")
        expect(item).to_contain_text("waiting")
        expect(item.locator(".last")).to_have_count(0)  # the question is in the summary once
        expect(page.get_by_label("Status")).to_have_value("online")

        # a second handoff arrives live: the queue grows without a reload and a badge says so
        other = Customer(client)
        other.say("agent please")
        expect(queue.locator("li")).to_have_count(2, timeout=10_000)
        expect(page.locator("#new-badge")).to_have_text("1 new")
        assert page.title().startswith("(1)")

        item.get_by_role("button", name="Claim").click()
        expect(page.locator("#conv-status")).to_contain_text("assigned to you")
        expect(queue.locator("li")).to_have_count(1)
        expect(page.locator("#packet")).to_contain_text("Asked for a person")
        log = page.get_by_role("log", name="Messages")
        expect(log).to_contain_text("I want to talk to a human")

        reply = page.get_by_label("Reply to the customer")
        page.get_by_label("Canned response").select_option(label="/thanks — Thanks")
        page.get_by_role("button", name="Insert", exact=True).click()
        expect(reply).to_have_value("Thanks for your patience!")
        reply.fill("Hi, Alice here. How can I help? <b>bold</b>")
        reply.press("Enter")
        expect(log.locator(".msg.agent")).to_contain_text("Alice here", timeout=10_000)
        expect(reply).to_have_value("")
        agent_messages = [m for m in customer.messages() if m["author"] == "agent"]
        assert [m["text"] for m in agent_messages] == [
            "Hi, Alice here. How can I help? <b>bold</b>"
        ]
        assert log.locator("b").count() == 0  # shown as text

        # the customer writes again: it appears without a reload
        customer.say("My parcel never arrived, order 1042")
        expect(log.locator(".msg.customer").last).to_contain_text(
            "My parcel never arrived", timeout=10_000
        )

        # agent assist: one click inserts an article body into the reply
        suggestion = page.locator("#assist .assist-item").first
        expect(suggestion).to_be_visible(timeout=10_000)
        suggestion.get_by_role("button").click()
        assert len(reply.input_value()) > 20

        page.get_by_label("Add an internal note").fill("courier claim opened")
        page.get_by_role("button", name="Add note").click()
        expect(page.locator("#notes")).to_contain_text("courier claim opened")

        assert serious_violations(page) == []  # the console with a conversation open

        page.get_by_role("button", name="Resolve").click()
        expect(page.locator("#conv-status")).to_contain_text("resolved", timeout=10_000)
        assert customer.view()["status"] == "resolved"
        expect(page.locator("#mine li")).to_have_count(0)

        # the second handoff: claim it and transfer it to Bob
        queue.locator("li").first.get_by_role("button", name="Claim").click()
        expect(page.locator("#conv-status")).to_contain_text("assigned to you")
        page.get_by_label("Transfer to").select_option(value=str(agents["bob"]["id"]))
        page.get_by_role("button", name="Transfer", exact=True).click()
        expect(page.locator("#conv-status")).to_contain_text("assigned to Bob", timeout=10_000)
        assert other.view()["agent"] == {"name": "Bob"}
        expect(page.get_by_label("Reply to the customer")).to_be_disabled()

        # signing out means leaving: Alice goes offline and her open conversation is queued
        third = Customer(client)
        third.say("can I speak to a person")
        queue.locator("li").first.get_by_role("button", name="Claim").click()
        expect(page.locator("#conv-status")).to_contain_text("assigned to you")
        assert third.view()["agent"] == {"name": "Alice"}
        page.get_by_role("button", name="Sign out").click()
        expect(page.locator("#login-error")).to_contain_text("signed out")
        assert third.view()["status"] == "queued"
        bob_token = client.post(
            "/api/v1/auth/login", json={"email": "bob@example.com", "password": "bob password 1"}
        ).json()["token"]
        presence = client.get(
            "/api/v1/agent/presence", headers={"Authorization": f"Bearer {bob_token}"}
        ).json()
        alice = next(row for row in presence if row["name"] == "Alice")
        assert (alice["presence"], alice["online"]) == ("offline", False)

        assert errors == []
        browser.close()
