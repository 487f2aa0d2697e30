"""The demo page and its widget in a real browser (Debian's Chromium through Playwright),
against the real service started as a user starts it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.servicekit import CHROMIUM_ARGS
from tests.web.conftest import CHROMIUM, inject_axe, needs_chromium, served

WEB = Path(__file__).resolve().parents[2] / "app" / "web"
ADMIN = {"email": "admin@example.com", "password": "admin password 1"}
W = "#switchboard-widget"

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
        name="browser",
        admin_email=ADMIN["email"],
        admin_password=ADMIN["password"],
        env={"SWITCHBOARD_DEMO_SHOP_URL": orders_api},
    ) as url:
        yield url


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


def _staff(server_url: str, email: str, password: str) -> httpx.Client:
    """An API client signed in as a staff member."""
    client = httpx.Client(base_url=server_url, timeout=15)
    login = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    login.raise_for_status()
    client.headers["Authorization"] = f"Bearer {login.json()['token']}"
    return client


@pytest.fixture(scope="module")
def agent(server_url: str) -> Iterator[httpx.Client]:
    """Alice, an agent created by the admin through the API, signed in."""
    admin = _staff(server_url, ADMIN["email"], ADMIN["password"])
    try:
        created = admin.post(
            "/api/v1/admin/users",
            json={
                "email": "alice@example.com",
                "password": "alice password 1",
                "name": "Alice",
                "role": "agent",
            },
        )
        created.raise_for_status()
    finally:
        admin.close()
    client = _staff(server_url, "alice@example.com", "alice password 1")
    try:
        yield client
    finally:
        client.close()


def _serious_violations(page: object) -> list[dict[str, object]]:
    """axe-core's serious and critical findings on the page as it is now (the widget's open
    Shadow DOM included)."""
    inject_axe(page)
    found = page.evaluate(  # type: ignore[attr-defined]
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def _stored_conversation(page: object, server_url: str) -> dict[str, str]:
    raw = page.evaluate(f"localStorage.getItem('switchboard:{server_url}:conversation')")  # type: ignore[attr-defined]
    return json.loads(raw)


def test_an_agent_answers_live_and_the_customer_rates_the_conversation(
    server_url: str, agent: httpx.Client, orders_api: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    agent.put("/api/v1/agent/presence", json={"status": "online"}).raise_for_status()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        # The stream goes through a route, so the test can cut it like a flaky network would.
        sockets: list[object] = []

        def relay(ws: object) -> None:
            ws.connect_to_server()  # type: ignore[attr-defined]
            sockets.append(ws)

        page.route_web_socket("**/stream*", relay)
        # The demo page's sign-in calls the shop (the demo orders service): give it the real one,
        # so that no request of the page fails.
        page.goto(f"{server_url}/?shop={orders_api}")
        page.get_by_role("button", name="chat").click()
        box = page.get_by_role("textbox", name="message")
        box.fill("let me talk to a human")
        box.press("Enter")
        notice = page.locator(f"{W} .notice")
        expect(notice).to_contain_text("Place in queue: 1", timeout=15_000)
        conversation = _stored_conversation(page, server_url)
        cid = conversation["id"]

        agent.post(f"/api/v1/agent/conversations/{cid}/claim").raise_for_status()
        expect(page.locator(f"{W} .msg.system").first).to_contain_text(
            "Alice joined the conversation.", timeout=10_000
        )
        expect(page.locator(f"{W} header .status")).to_have_text("You're chatting with Alice")

        agent.post(
            f"/api/v1/agent/conversations/{cid}/messages",
            json={"text": "Hi, I'm looking at your order now. <b>not bold</b>"},
        ).raise_for_status()
        reply = page.locator(f"{W} .msg.agent")
        expect(reply).to_have_count(1, timeout=10_000)
        expect(reply.locator(".who")).to_have_text("Alice")
        expect(reply).to_contain_text("<b>not bold</b>")
        assert page.locator(f"{W} b").count() == 0

        # The connection drops; the agent writes meanwhile; the widget reconnects with the last
        # seq it saw and shows the new message once, the old one still once.
        assert sockets
        sockets[-1].close()  # type: ignore[attr-defined]
        agent.post(
            f"/api/v1/agent/conversations/{cid}/messages",
            json={
                "text": "Found it: it ships **tomorrow**.\nTracking: [LS-1042](https://example.com/t)"
            },
        ).raise_for_status()
        expect(reply).to_have_count(2, timeout=15_000)
        # an agent's Markdown is built as DOM like an article's, and a newline stays a break
        expect(reply.nth(1).locator("strong")).to_have_text("tomorrow")
        expect(reply.nth(1).locator("a")).to_have_attribute("href", "https://example.com/t")
        assert "tomorrow.\nTracking" in reply.nth(1).locator("p").inner_text()
        assert len(sockets) >= 2
        seqs = page.locator(f"{W} .msg[data-seq]").evaluate_all(
            "nodes => nodes.map(n => Number(n.dataset.seq))"
        )
        assert seqs == sorted(set(seqs)), seqs

        agent.post(f"/api/v1/agent/conversations/{cid}/resolve").raise_for_status()
        rating = page.get_by_role("group", name="Rate the help you got")
        expect(rating).to_be_visible(timeout=10_000)
        expect(page.locator(f"{W} .msg.system").last).to_contain_text("resolved")
        assert _serious_violations(page) == []
        rating.get_by_role("button", name="5 out of 5").click()
        page.get_by_role("textbox", name="Comment").fill("Quick and friendly")
        page.get_by_role("button", name="Send rating").click()
        expect(page.locator(f"{W} .done")).to_have_text("Thank you for your feedback!")

        view = httpx.get(
            f"{server_url}/api/v1/conversations/{cid}",
            headers={"Authorization": f"Bearer {conversation['token']}"},
        ).json()
        assert view["csat_pending"] is False
        staff_view = agent.get(f"/api/v1/conversations/{cid}").json()
        assert [(r["score"], r["comment"]) for r in staff_view["ratings"]] == [
            (5, "Quick and friendly")
        ]

        # After a reload the conversation is all there, and the rating is not asked again.
        page.reload()
        page.get_by_role("button", name="chat").click()
        expect(page.locator(f"{W} .msg.agent")).to_have_count(2)
        expect(page.locator(f"{W} .msg.system").last).to_contain_text("resolved")
        expect(page.locator(f"{W} .rating")).to_have_count(0)
        assert errors == [], errors
        browser.close()


def test_nobody_online_the_widget_takes_an_email(server_url: str, agent: httpx.Client) -> None:
    from playwright.sync_api import expect, sync_playwright

    agent.put("/api/v1/agent/presence", json={"status": "offline"}).raise_for_status()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(server_url)
        page.get_by_role("button", name="chat").click()
        box = page.get_by_role("textbox", name="message")
        box.fill("I want to speak to a person")
        box.press("Enter")
        email = page.get_by_role("textbox", name="Your email")
        expect(email).to_be_visible(timeout=15_000)
        assert _serious_violations(page) == []
        email.fill("not an address")
        page.get_by_role("button", name="Send email").click()
        expect(page.get_by_role("alert").filter(has_text="valid email")).to_be_visible()
        email.fill("sam@example.com")
        email.press("Enter")
        expect(page.locator(f"{W} .done")).to_have_text(
            "Thanks! We'll follow up at sam@example.com."
        )
        conversation = _stored_conversation(page, server_url)
        view = httpx.get(
            f"{server_url}/api/v1/conversations/{conversation['id']}",
            headers={"Authorization": f"Bearer {conversation['token']}"},
        ).json()
        assert view["contact_email_saved"] is True
        browser.close()


def test_clarify_chips_markdown_links_and_an_accessibility_audit(server_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(server_url)
        page.get_by_role("button", name="chat").wait_for()
        page.get_by_role("button", name="chat").click()
        box = page.get_by_role("textbox", name="message")
        held: list[object] = []
        page.route(
            "**/api/v1/conversations/*/messages",
            lambda route: (
                held.append(route) if route.request.method == "POST" else route.fallback()
            ),
        )
        box.fill("delivery")  # too close to call between two shipping articles
        box.press("Enter")
        # while the bot's reply is pending, it is shown as typing
        expect(page.locator(f"{W} .typing")).to_be_visible(timeout=15_000)
        while not held:
            page.wait_for_timeout(20)
        held[0].continue_()  # type: ignore[attr-defined]
        page.unroute("**/api/v1/conversations/*/messages")
        expect(page.locator(f"{W} .typing")).to_have_count(0, timeout=15_000)
        chips = page.locator(f"{W} .chips button")
        expect(chips.first).to_be_visible(timeout=15_000)
        title = chips.first.inner_text()
        chips.first.click()
        expect(page.locator(f"{W} .msg.customer").last).to_have_text(title)
        expect(page.locator(f"{W} .msg.bot")).to_have_count(3, timeout=15_000)

        # An article's Markdown is built as DOM (bold, lists, http(s) links only), never as HTML.
        admin = _staff(server_url, ADMIN["email"], ADMIN["password"])
        try:
            admin.post(
                "/api/v1/admin/kb/articles?wait=true",
                json={
                    "title": "Gift wrapping",
                    "body": "We offer **gift wrapping** for $5 on any order.\n\n"
                    "- Choose it at checkout\n- Add a card with your note\n\n"
                    "Details in [our gift policy](https://example.com/gifts), not "
                    "[here](javascript:alert(1)). <img src=x onerror=alert(1)>",
                    "questions": ["do you offer gift wrapping?", "can you gift wrap my order?"],
                    "tags": ["orders"],
                },
            ).raise_for_status()
        finally:
            admin.close()
        box.fill("do you offer gift wrapping?")
        box.press("Enter")
        answer = page.locator(f"{W} .msg.bot.rich").last
        expect(answer).to_contain_text("Source: Gift wrapping", timeout=15_000)
        expect(answer.locator("strong")).to_have_text("gift wrapping")
        expect(answer.locator("li")).to_have_count(2)
        links = answer.locator("a")
        expect(links).to_have_count(1)
        expect(links).to_have_attribute("href", "https://example.com/gifts")
        expect(links).to_have_attribute("rel", "noopener noreferrer nofollow")
        expect(answer).to_contain_text("<img src=x onerror=alert(1)>")
        assert page.locator(f"{W} script, {W} img, {W} iframe").count() == 0

        assert _serious_violations(page) == []
        browser.close()


def test_options_come_from_the_script_tag(server_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{server_url}/docs")  # any page of another shape; the widget brings its own
        page.evaluate(
            """([base]) => {
                const s = document.createElement('script');
                s.src = base + '/widget.js';
                Object.assign(s.dataset, {
                    apiBase: base, title: 'Aide', greeting: 'Bonjour !', accent: '#6b2d5c',
                    position: 'left', lang: 'fr',
                    locale: JSON.stringify({open: 'Ouvrir le chat', close: 'Fermer le chat',
                                            message: 'message à envoyer', send: 'Nope'}),
                    textSend: 'Envoyer',
                });
                document.body.append(s);
            }""",
            [server_url],
        )
        launcher = page.get_by_role("button", name="Ouvrir le chat")
        launcher.click()
        dialog = page.get_by_role("dialog", name="Aide")
        expect(dialog).to_be_visible()
        expect(dialog).to_have_attribute("lang", "fr")
        expect(page.locator(f"{W} .log")).to_contain_text("Bonjour !")
        expect(page.get_by_role("button", name="Envoyer")).to_be_visible()
        expect(page.get_by_role("textbox", name="message à envoyer")).to_be_focused()
        box = dialog.bounding_box()
        assert box is not None and box["x"] < 100  # on the left
        browser.close()


def test_a_phone_sized_screen_and_the_keyboard_alone(server_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        phone = browser.new_context(
            viewport={"width": 390, "height": 800}, is_mobile=True, has_touch=True
        ).new_page()
        phone.goto(server_url)
        # the demo page fits the screen, so the phone does not zoom out past the launcher
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.get_by_role("button", name="chat").tap()
        panel = phone.locator(f"{W} .panel")
        expect(panel).to_be_visible()
        box = panel.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert box["y"] >= 0 and box["y"] + box["height"] <= 800
        field = phone.get_by_role("textbox", name="message")
        field.fill("how do I return an item?")
        phone.get_by_role("button", name="Send").tap()
        answer = phone.locator(f"{W} .msg.bot").nth(1)
        expect(answer).to_contain_text("Return items", timeout=15_000)
        # a long answer is read from its first line: its top is in view, not scrolled past
        phone.wait_for_timeout(200)
        log, top = phone.locator(f"{W} .log").bounding_box(), answer.bounding_box()
        assert log is not None and top is not None
        assert top["height"] > log["height"]  # longer than the screen
        assert log["y"] <= top["y"] <= log["y"] + log["height"] / 2

        # keyboard alone: Tab reaches the launcher, Enter opens with the focus in the message
        # field, Enter sends, Escape closes and gives the focus back to the launcher
        page = browser.new_page()
        page.goto(server_url)
        launcher = page.get_by_role("button", name="chat")
        launcher.wait_for()
        for _ in range(40):
            page.keyboard.press("Tab")
            if launcher.evaluate("b => b.getRootNode().activeElement === b"):
                break
        else:
            raise AssertionError("Tab never reached the chat launcher")
        page.keyboard.press("Enter")
        message = page.get_by_role("textbox", name="message")
        expect(message).to_be_focused()
        page.keyboard.type("how long until I get my refund?")
        page.keyboard.press("Enter")
        expect(page.locator(f"{W} .msg.bot").nth(1)).to_contain_text(
            "business days", timeout=15_000
        )
        page.keyboard.press("Escape")
        expect(page.locator(f"{W} .panel")).to_be_hidden()
        assert launcher.evaluate("b => b.getRootNode().activeElement === b")
        browser.close()
