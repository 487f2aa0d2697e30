"""The admin console (/admin) in a real browser (Debian's Chromium through Playwright), against
the real service: an admin edits an article and the widget's next answer carries the change,
hostile article text stays inert, and every section passes an axe-core audit."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.servicekit import CHROMIUM_ARGS
from tests.web.conftest import CHROMIUM, inject_axe, needs_chromium, served

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin console password"
REFUND_TITLE = "How long does a refund take?"

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
        name="admin-console",
        env={"SWITCHBOARD_DEMO_SHOP_URL": orders_api},  # the demo page signs in there
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
    ) as url:
        yield url


@pytest.fixture(scope="module")
def admin_token(server_url: str) -> str:
    response = httpx.post(
        f"{server_url}/api/v1/auth/login",
        json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
    )
    response.raise_for_status()
    return str(response.json()["token"])


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watch:
    """Console errors, uncaught exceptions and dialogs of a page."""

    def __init__(self, page: Any, *, expected: tuple[str, ...] = ()) -> None:
        self.expected = expected  # failed requests the test provokes on purpose
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if any(f"status of {status}" in message.text for status in self.expected):
            return
        self.errors.append(f"{message.text} ({url})")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def sign_in(page: Any, server_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server_url}/admin")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Articles", exact=True)).to_be_visible()


def open_article(page: Any, title: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("searchbox", name="Search").fill(title)
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("#articles table.list").get_by_role("button", name=title, exact=True).click()
    expect(page.get_by_label("Title", exact=True)).to_have_value(title)


def ask_as_customer(server_url: str, text: str) -> dict[str, Any]:
    with httpx.Client(base_url=server_url, timeout=30) as client:
        opened = client.post("/api/v1/conversations").json()
        response = client.post(
            f"/api/v1/conversations/{opened['id']}/messages",
            json={"text": text},
            headers={"Authorization": f"Bearer {opened['token']}"},
        )
        response.raise_for_status()
        return dict(response.json()["reply"])


def test_admin_edits_an_article_and_the_widgets_next_answer_has_the_change(
    server_url: str, admin_token: str, browser: Any
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    watch = Watch(page, expected=("409",))
    sign_in(page, server_url)
    open_article(page, REFUND_TITLE)

    marker = f"Refund check {uuid.uuid4().hex[:8]}"
    body = page.get_by_label("Body (Markdown)")
    body.fill(f"{marker}: refunds reach you within **3 business days** of our check.")
    preview = page.locator("#article-preview")
    expect(preview.locator("strong")).to_have_text("3 business days")  # live preview
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".editor .notice")).to_contain_text("it is live", timeout=30_000)

    # a customer on the demo page, in a browser context of their own, gets the new text
    customer = browser.new_context().new_page()
    customer_watch = Watch(customer)
    customer.goto(server_url)
    customer.get_by_role("button", name="chat").click()
    box = customer.get_by_role("textbox", name="message")
    box.fill("how long until I get my refund?")
    box.press("Enter")
    answer = customer.locator("#switchboard-widget .msg.bot").nth(1)
    expect(answer).to_contain_text(marker, timeout=15_000)
    expect(answer.locator("strong")).to_have_text("3 business days")
    expect(answer).to_contain_text(f"Source: {REFUND_TITLE}")
    assert customer_watch.errors == []

    # version history lists the edit with a revert to the file's version
    expect(page.locator(".versions li").first).to_contain_text("Version 2")

    # someone else saves meanwhile: the console's stale save gets the 409 message
    article = page.locator("#articles table.list tr.current button").get_attribute("data-id")
    current = httpx.get(
        f"{server_url}/api/v1/admin/kb/articles/{article}",
        headers={"Authorization": f"Bearer {admin_token}"},
    ).json()
    fields = ("title", "body", "questions", "tags", "status")
    edited = {k: current[k] for k in fields} | {"body": f"{marker} (edited elsewhere)"}
    httpx.put(
        f"{server_url}/api/v1/admin/kb/articles/{article}",
        json={**edited, "version": current["version"]},
        headers={"Authorization": f"Bearer {admin_token}"},
    ).raise_for_status()
    body.fill("A stale edit that must not overwrite the other one.")
    page.get_by_role("button", name="Save", exact=True).click()
    notice = page.locator(".editor .notice")
    expect(notice).to_have_attribute("data-kind", "error")
    expect(notice).to_contain_text("Reload the article")
    page.get_by_role("button", name="Reload latest version").click()
    expect(body).to_have_value(f"{marker} (edited elsewhere)")

    assert watch.errors == []
    assert watch.dialogs == []


def test_hostile_article_text_stays_inert(server_url: str, admin_token: str, browser: Any) -> None:
    from playwright.sync_api import expect

    title = '<img src=x onerror="alert(1)"> Hostile article'
    body = (
        "<script>alert(2)</script> <b onmouseover=alert(3)>bold?</b>\n\n"
        "[click me](javascript:alert(4)) and [safe](https://example.com/x)\n\n"
        "- item <svg onload=alert(5)>\n- **real bold**"
    )
    created = httpx.post(
        f"{server_url}/api/v1/admin/kb/articles",
        json={"title": title, "body": body, "questions": ["<iframe src=x>"], "status": "draft"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    created.raise_for_status()

    page = browser.new_page()
    watch = Watch(page)
    sign_in(page, server_url)
    page.get_by_role("searchbox", name="Search").fill("Hostile article")
    page.get_by_role("button", name="Search", exact=True).click()
    listed = page.locator("#articles table.list").get_by_role("button", name=title)
    expect(listed).to_have_text(title)  # the markup shown as text
    listed.click()
    expect(page.get_by_label("Title", exact=True)).to_have_value(title)
    preview = page.locator("#article-preview")
    expect(preview).to_contain_text("<script>alert(2)</script>")
    expect(preview).to_contain_text("[click me](javascript:alert(4))")
    expect(preview.locator("strong")).to_have_text("real bold")
    assert preview.locator("a").count() == 1
    assert preview.locator("a").get_attribute("href") == "https://example.com/x"
    # typing more markup into the editor keeps the live preview inert
    page.get_by_label("Body (Markdown)").fill("<img src=y onerror=alert(6)>")
    expect(preview).to_contain_text("<img src=y onerror=alert(6)>")
    # the hostile title as the try-it panel and version history show it
    page.get_by_role("link", name="Try it").click()
    page.get_by_label("Customer message").fill("<img src=z onerror=alert(7)> refund")
    page.get_by_role("button", name="Try it").click()
    expect(page.get_by_role("heading", name="Why")).to_be_visible(timeout=15_000)
    expect(page.locator(".try-result dl.facts").first).to_contain_text("Decision")

    page.wait_for_timeout(300)
    assert page.locator("img, script:not([src]), svg, iframe").count() == 0
    assert watch.dialogs == []
    assert watch.errors == []


def test_gaps_draft_import_errors_users_and_every_section_pass_axe(
    server_url: str, browser: Any
) -> None:
    from playwright.sync_api import expect

    for question in ("do you sell telescopes", "can I buy a telescope", "are telescopes in stock"):
        assert ask_as_customer(server_url, question)["kind"] in {"clarify", "handoff"}

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = Watch(page, expected=("422",))
    sign_in(page, server_url)

    page.get_by_role("link", name="Knowledge gaps").click()
    gap = page.locator("#gaps article.gap").filter(has_text="telescope")
    gap.get_by_role("button", name="Create draft from this cluster").click()
    expect(page.get_by_label("Title", exact=True)).to_have_value(re.compile("telescope"))
    editor = page.get_by_role("form", name="Edit article")
    expect(editor.get_by_label("Status", exact=True)).to_have_value("draft")

    page.get_by_role("link", name="Users and roles").click()
    users = page.locator("#users")
    users.get_by_label("Name").fill("Dana Agent")
    users.get_by_label("Email").fill("dana@example.com")
    users.get_by_label("Password").fill("dana password 1")
    users.get_by_role("button", name="Add account").click()
    users.get_by_role("button", name="Deactivate Dana Agent").click()
    users.get_by_role("button", name="Yes, deactivate Dana Agent").click()
    expect(users.locator("tr").filter(has_text="dana@example.com")).to_contain_text("deactivated")

    page.get_by_role("link", name="Import and export").click()
    page.get_by_label("File (.json, .csv or .zip)").set_input_files(
        {
            "name": "bad.csv",
            "mimeType": "text/csv",
            "buffer": b"title,body\nGood title,Good body\n,missing title\nNo body,\n",
        }
    )
    page.get_by_label("Only check the file (dry run)").check()
    page.get_by_role("button", name="Import", exact=True).click()
    problems = page.locator(".problems tbody tr")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("Row 3")
    expect(problems.nth(1)).to_contain_text("Row 4")

    # the dashboard fetches its figures each time it is shown: a new conversation counts
    page.get_by_role("link", name="Dashboard").click()
    engaged = page.locator(".dash-kpi").filter(has_text="Conversations").locator(".dash-sub")
    expect(engaged).to_contain_text("with a customer message")
    before = int(engaged.inner_text().split()[0].replace(",", ""))
    ask_as_customer(server_url, "how long until I get my refund?")
    page.get_by_role("link", name="Articles").click()
    page.get_by_role("link", name="Dashboard").click()
    expect(engaged).to_have_text(f"{before + 1} with a customer message")

    violations: dict[str, list[Any]] = {}
    for section in ("articles", "transfer", "try", "gaps", "users", "dashboard"):
        page.goto(f"{server_url}/admin#{section}")
        expect(page.locator(f"#{section}")).to_be_visible()
        page.wait_for_load_state("networkidle")
        inject_axe(page)
        found = page.evaluate(
            "axe.run(document).then(r => r.violations"
            ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => [v.id, v.impact, v.nodes.map(n => n.target)]))"
        )
        if found:
            violations[section] = found
    # a phone-sized screen too
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{server_url}/admin#articles")
    expect(page.get_by_role("heading", name="Articles", exact=True)).to_be_visible()
    inject_axe(page)
    narrow = page.evaluate(
        "axe.run(document).then(r => r.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id))"
    )
    assert violations == {}
    assert narrow == []
    assert watch.errors == []
