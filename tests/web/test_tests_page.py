"""The admin console's Tests page in a real browser (Chromium through Playwright) against the
real service: an admin runs a suite of the suites folder, sees the failing turn and its
reason, runs it again with a draft article as if published and sees that turn now passing;
a pasted suite with broken YAML is refused with its line; the page passes an axe audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conversation_suites.test_admin_api import TELESCOPES
from tests.web.conftest import inject_axe, needs_chromium, served
from tests.web.test_admin_console import ADMIN_EMAIL, ADMIN_PASSWORD, Watch, browser, sign_in

pytestmark = needs_chromium
__all__ = ["browser"]  # the browser fixture, shared with the admin console's tests


@pytest.fixture(scope="module")
def server_url(
    tmp_path_factory: pytest.TempPathFactory,
    model_cache: Path,
    seeded_index: Path,
) -> Iterator[str]:
    suites = tmp_path_factory.mktemp("page-suites")
    (suites / "store.yaml").write_text(TELESCOPES, "utf-8")
    with served(
        tmp_path_factory,
        model_cache,
        seeded_index,
        name="tests-page",
        env={"SWITCHBOARD_TEST_SUITES_DIR": str(suites)},
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
    ) as url:
        login = httpx.post(
            f"{url}/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        login.raise_for_status()
        created = httpx.post(
            f"{url}/api/v1/admin/kb/articles",
            json={
                "title": "Telescope rentals",
                "slug": "telescope-rentals",
                "status": "draft",
                "body": "We rent telescopes for stargazing nights: 25 a night, from the shop.",
                "questions": ["Do you rent out telescopes?", "Can I hire a telescope?"],
            },
            headers={"Authorization": f"Bearer {login.json()['token']}"},
        )
        created.raise_for_status()
        yield url


def test_an_admin_runs_a_suite_then_sees_what_a_draft_would_change(
    server_url: str, browser: Any
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = Watch(page, expected=("422",))
    sign_in(page, server_url)
    page.get_by_role("link", name="Tests").click()
    tests = page.locator("#tests")
    expect(tests.get_by_role("heading", name="Conversation tests")).to_be_visible()
    expect(tests.get_by_label("Suite", exact=True)).to_have_value("store.yaml")

    tests.get_by_role("button", name="Run suite").click()
    expect(
        tests.get_by_role("heading", name="store.yaml: 1 of 2 conversations passed")
    ).to_be_visible()
    failing = tests.locator("tr").filter(has_text="telescope rental")
    expect(failing).to_contain_text("fail")
    expect(failing).to_contain_text("Turn 1")
    expect(failing).to_contain_text("expected answer, got")
    expect(tests).to_contain_text("the suite's first run")

    tests.get_by_label("Draft article to try as if published").select_option(
        label="Telescope rentals"
    )
    tests.get_by_role("button", name="Run suite").click()
    expect(
        tests.get_by_role("heading", name="store.yaml: 2 of 2 conversations passed")
    ).to_be_visible()
    now_passing = tests.get_by_role("table", name="Now passing (1)")
    expect(now_passing).to_contain_text("telescope rental")
    expect(now_passing).to_contain_text("answer telescope-rentals")
    expect(tests).to_contain_text("with “Telescope rentals” as if published")
    now_passing.get_by_text("The replies").click()
    expect(now_passing).to_contain_text("Now: We rent telescopes for stargazing nights")

    inject_axe(page)
    found = page.evaluate(
        "axe.run(document).then(r => r.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => [v.id, v.impact, v.nodes.map(n => n.target)]))"
    )
    assert found == []

    tests.get_by_label("Suite", exact=True).select_option(label="Paste a suite below")
    tests.get_by_label("Suite (YAML)").fill("conversations:\n  - name: a\n    turns: [\n")
    tests.get_by_label("Draft article to try as if published").select_option(
        label="None: the live knowledge"
    )
    tests.get_by_role("button", name="Run suite").click()
    expect(tests.get_by_role("alert")).to_contain_text("line 4: not valid YAML")
    assert watch.errors == []
