"""The admin API of conversation suites against the real service (`python -m app serve`, one
for the module): admins only; bad suites are 422 with the line and the problem; a run against
the live knowledge and one with a draft article as if published, and the diff between them
(the draft answers what the live knowledge cannot: that turn goes from fail to pass), while
the live index and the live conversations stay as they were."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conversation_suites.suites import PASSING
from tests.web.conftest import served

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "suites admin password"
TELESCOPE_QUESTION = "do you rent out telescopes for stargazing nights?"
TELESCOPES = f"""
conversations:
  - name: telescope rental
    category: new topic
    turns:
      - say: {TELESCOPE_QUESTION}
        expect: {{kind: answer, article: telescope-rentals}}
  - name: canada
    category: shipping
    turns:
      - say: do you ship to canada?
        expect: {{kind: answer, article: shipping-to-canada}}
"""


@pytest.fixture(scope="module")
def suites_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("suites")
    (folder / "passing.yaml").write_text(PASSING, "utf-8")
    (folder / "store").mkdir()
    (folder / "store" / "one.yaml").write_text(TELESCOPES, "utf-8")
    return folder


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory,
    model_cache: Path,
    seeded_index: Path,
    suites_dir: Path,
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    with (
        served(
            tmp_path_factory,
            model_cache,
            seeded_index,
            name="suites-api",
            env={"SWITCHBOARD_TEST_SUITES_DIR": str(suites_dir)},
            admin_email=ADMIN_EMAIL,
            admin_password=ADMIN_PASSWORD,
        ) as url,
        httpx.Client(base_url=url, timeout=300) as client,
    ):
        login = client.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        login.raise_for_status()
        yield client, {"Authorization": f"Bearer {login.json()['token']}"}


def _run(client: httpx.Client, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/admin/tests/runs", json=body, headers=admin)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_agents_are_refused_and_admins_see_the_folders_suites(
    api: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, admin = api
    created = client.post(
        "/api/v1/admin/users",
        json={
            "email": "agent@example.com",
            "password": "agent password 1",
            "name": "Al",
            "role": "agent",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    login = client.post(
        "/api/v1/auth/login", json={"email": "agent@example.com", "password": "agent password 1"}
    )
    agent = {"Authorization": f"Bearer {login.json()['token']}"}
    assert client.get("/api/v1/admin/tests/suites", headers=agent).status_code == 403
    refused = client.post("/api/v1/admin/tests/runs", json={"suite": "passing.yaml"}, headers=agent)
    assert refused.status_code == 403
    assert client.get("/api/v1/admin/tests/suites").status_code == 401

    listed = client.get("/api/v1/admin/tests/suites", headers=admin)
    assert listed.json() == {"folder_configured": True, "suites": ["passing.yaml", "store"]}
    run = _run(client, admin, suite="passing.yaml")["run"]
    assert run["passed"] is True
    assert run["summary"]["turns_passed"] == 3


def test_bad_suites_are_422_with_the_line_and_the_problem(
    api: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, admin = api
    post = client.post
    broken = post(
        "/api/v1/admin/tests/runs",
        json={"yaml": "conversations:\n  - name: a\n    turns: [\n", "name": "mine"},
        headers=admin,
    )
    assert broken.status_code == 422
    error = broken.json()["error"]
    assert "mine, line 4: not valid YAML" in error["message"]

    typo = post(
        "/api/v1/admin/tests/runs",
        json={"yaml": TELESCOPES.replace("article:", "articel:"), "name": "mine"},
        headers=admin,
    )
    assert typo.status_code == 422
    assert error_mentions(typo, "line 7, conversation 'telescope rental', turn 1, expect.articel")

    both = post("/api/v1/admin/tests/runs", json={"yaml": PASSING, "suite": "x"}, headers=admin)
    assert both.status_code == 422
    assert "either `suite`" in both.text
    missing = post("/api/v1/admin/tests/runs", json={"suite": "../passing.yaml"}, headers=admin)
    assert missing.status_code == 404
    assert "GET /api/v1/admin/tests/suites lists them" in missing.json()["error"]["message"]


def error_mentions(response: httpx.Response, text: str) -> bool:
    error = response.json()["error"]
    return any(text in problem for problem in error["problems"])


def test_a_draft_that_answers_turns_that_fail_into_a_pass_and_changes_nothing_live(
    api: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, admin = api
    live = _run(client, admin, suite="store")
    assert live["diff"]["against"] is None  # the suite's first run
    telescope = live["run"]["conversations"][0]["turns"][0]
    assert telescope["passed"] is False
    assert telescope["failures"][0].startswith("expected answer, got ")

    draft = client.post(
        "/api/v1/admin/kb/articles",
        json={
            "title": "Telescope rentals",
            "slug": "telescope-rentals",
            "status": "draft",
            "body": "We rent telescopes for stargazing nights: 25 a night, picked up in store.",
            "questions": ["Do you rent out telescopes?", "Can I hire a telescope for a night?"],
        },
        headers=admin,
    )
    assert draft.status_code == 201, draft.text
    draft_id = draft.json()["id"]
    knowledge = client.get("/readyz").json()["knowledge"]

    tried = _run(client, admin, suite="store", draft_article_id=draft_id)
    assert tried["run"]["draft"] == {
        "id": draft_id,
        "slug": "telescope-rentals",
        "title": "Telescope rentals",
    }
    assert tried["run"]["passed"] is True
    diff = tried["diff"]
    assert [(f["conversation"], f["turn"]) for f in diff["fixed"]] == [("telescope rental", 1)]
    fixed = diff["fixed"][0]
    assert fixed["before"]["passed"] is False
    assert fixed["after"]["move"] == "answer telescope-rentals"
    assert "telescopes for stargazing" in fixed["after"]["text"]
    assert diff["broken"] == []

    # Nothing was published: the live index, and a customer, still do not know the draft.
    after = client.get("/readyz").json()["knowledge"]
    assert (after["articles"], after["passages"]) == (knowledge["articles"], knowledge["passages"])
    opened = client.post("/api/v1/conversations").json()
    reply = client.post(
        f"/api/v1/conversations/{opened['id']}/messages",
        json={"text": TELESCOPE_QUESTION},
        headers={"Authorization": f"Bearer {opened['token']}"},
    ).json()["reply"]
    assert all(s["title"] != "Telescope rentals" for s in reply["sources"])

    # The next live run is compared with the last live run, not with the draft's.
    again = _run(client, admin, suite="store")
    assert again["diff"]["against"]["started_at"] == live["run"]["started_at"]
    assert again["diff"]["fixed"] == [] and again["diff"]["broken"] == []
    runs = client.get("/api/v1/admin/tests/runs", params={"suite": "store"}, headers=admin)
    assert [r["draft"] is not None for r in runs.json()["runs"]] == [False, True, False]

    # A published article is not a draft to try.
    published = client.post(
        "/api/v1/admin/tests/runs",
        json={"suite": "store", "draft_article_id": readiness_article_id(client, admin)},
        headers=admin,
    )
    assert published.status_code == 409
    assert "published already" in published.json()["error"]["message"]


def readiness_article_id(client: httpx.Client, admin: dict[str, str]) -> int:
    """The id of a published article of the shipped knowledge."""
    listed = client.get("/api/v1/admin/kb/articles", headers=admin).json()
    return int(next(a["id"] for a in listed["items"] if a["status"] == "published"))
