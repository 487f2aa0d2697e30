"""Knowledge gaps and KB health, through HTTP with the real model: customers' unanswered
questions cluster by meaning, a cluster becomes a draft article in one call, near-duplicate
and never-matched articles are listed, and only admins may see any of it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import (
    ask,
    first_reply,
    make_staff,
    open_conversation,
)

GAPS = "/api/v1/admin/insights/gaps"
HEALTH = "/api/v1/admin/insights/kb-health"
ARTICLES = "/api/v1/admin/kb/articles"

# Paraphrases of two questions the demo knowledge base does not cover.
SPARE_PARTS = [
    "Do you sell replacement parts for the espresso machine?",
    "Where can I buy spare parts for my coffee maker?",
    "Can I order a replacement carafe for my coffee machine?",
    "Do you have spare parts for coffee machines?",
]
# Asked in one conversation: the bot asks to clarify, then hands off for low confidence.
FOLLOW_UP = [
    "Do you sell spare parts for coffee machines?",
    "I'm looking for a replacement part for my espresso machine",
]
JOBS = [
    "Do you have any job openings?",
    "Are you hiring at the moment?",
    "Are there any jobs available at your company?",
]
ANSWERED = "How do I reset my password?"


async def gaps(client: httpx.AsyncClient, admin: dict[str, str], **params: Any) -> Any:
    response = await client.get(GAPS, params=params, headers=admin)
    assert response.status_code == 200, response.text
    return response.json()


def cluster_with(report: dict[str, Any], text: str) -> dict[str, Any]:
    """The cluster whose examples include `text`."""
    found = [c for c in report["clusters"] if text in c["examples"]]
    assert len(found) == 1, (text, report["clusters"])
    return found[0]


async def test_unanswered_questions_cluster_and_become_a_draft(admin_client: Any) -> None:
    client, admin = admin_client
    empty = await gaps(client, admin)
    assert empty["questions"] == 0 and empty["clusters"] == [] and not empty["truncated"]

    for text in [*SPARE_PARTS, *JOBS]:
        assert (await first_reply(client, text))["kind"] == "clarify", text
    # A second miss in one conversation is handed off for low confidence: a gap too.
    opened = await open_conversation(client)
    clarified = (await ask(client, opened, FOLLOW_UP[0])).json()["reply"]
    assert clarified["kind"] == "clarify"
    handed = (await ask(client, opened, FOLLOW_UP[1])).json()["reply"]
    assert handed["kind"] == "handoff" and handed["handoff_reason"] == "low_confidence"
    # Answered questions and explicit requests for a person are not gaps.
    assert (await first_reply(client, ANSWERED))["kind"] == "answer"
    assert (await first_reply(client, "I want to talk to a human please"))["kind"] == "handoff"

    report = await gaps(client, admin)
    assert report["questions"] == len(SPARE_PARTS) + len(JOBS) + 2
    parts = cluster_with(report, SPARE_PARTS[0])
    jobs = cluster_with(report, JOBS[0])
    assert parts["id"] != jobs["id"]
    assert parts["count"] == len(SPARE_PARTS) + 2 and parts["conversations"] == 5
    assert set(parts["examples"]) <= {*SPARE_PARTS, *FOLLOW_UP}
    assert len(parts["examples"]) == 5 == len(set(parts["examples"]))
    assert parts["reasons"] == {"clarify:low_confidence": 5, "handoff:low_confidence": 1}
    assert jobs["count"] == len(JOBS) and sorted(jobs["examples"]) == sorted(JOBS)
    assert jobs["reasons"] == {"clarify:low_confidence": 3}
    for cluster in (parts, jobs):
        closest = cluster["closest_article"]
        assert closest["article_id"] > 0 and closest["title"] and 0 < closest["score"] < 1
        assert cluster["covered"] is False and cluster["held_by"] is None
        assert cluster["first_seen"] <= cluster["last_seen"]
    counts = [c["count"] for c in report["clusters"]]
    assert counts == sorted(counts, reverse=True) and min(counts) >= 2
    assert all(ANSWERED not in c["examples"] for c in report["clusters"])
    assert report["distance_threshold"] == 0.5 and report["total_clusters"] == len(counts)

    # Paging and the smallest size.
    assert len((await gaps(client, admin, limit=1))["clusters"]) == 1
    big = await gaps(client, admin, min_size=4)
    assert [c["id"] for c in big["clusters"]] == [parts["id"]]

    # The id survives a new question joining the cluster.
    await first_reply(client, "Do you sell spare parts for espresso machines?")
    again = cluster_with(await gaps(client, admin), SPARE_PARTS[0])
    assert again["id"] == parts["id"] and again["count"] == parts["count"] + 1
    assert again["last_seen"] > parts["last_seen"]

    created = await client.post(f"{GAPS}/{parts['id']}/draft", headers=admin)
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["status"] == "draft" and draft["tags"] == ["knowledge-gap"]
    assert draft["title"] == again["examples"][0]
    asked = {*SPARE_PARTS, *FOLLOW_UP}
    assert asked - {draft["title"]} <= set(draft["questions"])
    assert "TODO: write the answer" in draft["body"]
    assert again["closest_article"]["title"] in draft["body"]
    stored = await client.get(f"{ARTICLES}/{draft['id']}", headers=admin)
    assert stored.json()["questions"] == draft["questions"]

    # The report shows the draft; a second click does not make another one.
    held = cluster_with(await gaps(client, admin), SPARE_PARTS[0])["held_by"]
    assert held["article_id"] == draft["id"] and held["status"] == "draft"
    twice = await client.post(f"{GAPS}/{parts['id']}/draft", headers=admin)
    assert twice.status_code == 409 and str(draft["id"]) in twice.json()["error"]["message"]
    # A draft answers nobody.
    assert (await first_reply(client, SPARE_PARTS[0]))["kind"] == "clarify"

    # Another cluster still drafts; a vanished one is a clear 404.
    assert (await client.post(f"{GAPS}/{jobs['id']}/draft", headers=admin)).status_code == 201
    gone = await client.post(f"{GAPS}/{jobs['id']}/draft", params={"min_size": 9}, headers=admin)
    assert gone.status_code == 404
    assert "reload GET /api/v1/admin/insights/gaps" in gone.json()["error"]["message"]
    unknown = await client.post(f"{GAPS}/0123456789abcdef/draft", headers=admin)
    assert unknown.status_code == 404


async def test_kb_health_lists_near_duplicates_never_matched_and_counts(
    admin_client: Any,
) -> None:
    client, admin = admin_client
    listed = await client.get(ARTICLES, params={"limit": 200}, headers=admin)
    original = next(a for a in listed.json()["items"] if a["slug"] == "reset-password")
    copy = {
        "title": "Resetting a forgotten password",
        "body": original["body"],
        "questions": original["questions"][::2],
        "tags": original["tags"],
    }
    created = await client.post(ARTICLES, params={"wait": "true"}, json=copy, headers=admin)
    assert created.status_code == 201, created.text
    copy_id = created.json()["id"]
    draft = {**copy, "title": "An unfinished draft", "status": "draft"}
    assert (await client.post(ARTICLES, json=draft, headers=admin)).status_code == 201
    answered = await first_reply(client, "How long does delivery take?")
    assert answered["kind"] == "answer"

    response = await client.get(HEALTH, headers=admin)
    assert response.status_code == 200, response.text
    health = response.json()
    pairs = [{p["a"]["article_id"], p["b"]["article_id"]} for p in health["near_duplicates"]]
    assert {original["id"], copy_id} in pairs
    pair = health["near_duplicates"][pairs.index({original["id"], copy_id})]
    assert pair["score"] >= health["duplicate_threshold"] == 0.75
    assert {pair["a"]["title"], pair["b"]["title"]} == {original["title"], copy["title"]}
    # Distinct shipped articles are not reported: only the copy's pair.
    assert all(copy_id in p for p in pairs), health["near_duplicates"]

    published = health["counts"]["published"]
    assert health["counts"] == {
        "published": published,
        "draft": 1,
        "archived": 0,
        "total": published + 1,
    }
    assert health["replies"] == 1
    never = {a["article_id"]: a for a in health["never_matched"]}
    cited = {s["article_id"] for s in answered["sources"]}
    assert cited and not cited & set(never)
    assert len(never) >= published - len(cited) - len(answered["suggestions"]) - 1
    assert never[copy_id]["age_days"] >= 0 and never[copy_id]["title"] == copy["title"]
    ages = [a["age_days"] for a in health["never_matched"]]
    assert ages == sorted(ages, reverse=True)  # oldest first


async def test_insights_are_for_admins_only(admin_client: Any) -> None:
    client, admin = admin_client
    _, agent = await make_staff(client, admin, email="ann@example.com", name="Ann", role="agent")
    customer = (await open_conversation(client))[1]
    routes = [("GET", GAPS), ("POST", f"{GAPS}/0123456789abcdef/draft"), ("GET", HEALTH)]
    for method, url in routes:
        assert (await client.request(method, url)).status_code == 401
        assert (await client.request(method, url, headers=customer)).status_code == 401
        assert (await client.request(method, url, headers=agent)).status_code == 403
    for params in ({"days": 0}, {"days": 366}, {"min_size": 0}, {"limit": 0}, {"limit": 201}):
        assert (await client.get(GAPS, params=params, headers=admin)).status_code == 422, params
    bad_id = await client.post(f"{GAPS}/not-an-id/draft", headers=admin)
    assert bad_id.status_code == 422
