"""The analytics API over a real database: conversations played through the public API
(answered by the bot, handed off, claimed, answered by an agent, resolved, rated), their events
then moved to known instants, and every figure of the summary and the CSV checked exactly."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from app.analytics import service
from app.conversations.models import Event
from tests.agents.conftest import HUMAN_PLEASE, Desk
from tests.conftest import Opened, ask, open_conversation

SUMMARY = "/api/v1/admin/analytics/summary"
CSV = "/api/v1/admin/analytics/conversations.csv"
DAY0 = date(2024, 3, 10)
DAY1 = date(2024, 3, 11)
RANGE = {"from": DAY0.isoformat(), "to": DAY1.isoformat()}

_events = Event.__table__


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


async def retime(
    database_url: str,
    conversation_id: str,
    base: datetime,
    offsets: dict[str, list[int]] | None = None,
    data: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Move every event of a conversation to `base` plus, for the n-th event of a type, the
    n-th offset (seconds) listed for that type; merge `data[type]` into those events' data."""
    offsets, data = offsets or {}, data or {}
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(_events.c.id, _events.c.type, _events.c.data)
                    .where(_events.c.conversation_id == conversation_id)
                    .order_by(_events.c.id)
                )
            ).all()
            seen: dict[str, int] = {}
            for event_id, kind, values in rows:
                n = seen.get(kind, 0)
                seen[kind] = n + 1
                listed = offsets.get(kind, [])
                delta = listed[n] if n < len(listed) else (listed[-1] if listed else 0)
                await conn.execute(
                    update(_events)
                    .where(_events.c.id == event_id)
                    .values(
                        created_at=base + timedelta(seconds=delta),
                        data={**values, **data.get(kind, {})},
                    )
                )
    finally:
        await engine.dispose()


async def rate(desk: Desk, opened: Opened, score: int) -> None:
    response = await desk.client.post(
        f"/api/v1/conversations/{opened[0]}/csat", json={"score": score}, headers=opened[1]
    )
    assert response.status_code == 201, response.text


async def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response


async def chat(desk: Desk, *texts: str) -> Opened:
    """A new conversation where the customer writes `texts`; handed off only by the last one
    if that is a request for a person."""
    opened = await open_conversation(desk.client)
    for text in texts:
        response = await ask(desk.client, opened, text)
        assert response.status_code == 201, response.text
        assert (response.json()["reply"]["kind"] == "handoff") == (text == HUMAN_PLEASE)
    return opened


@pytest.fixture
async def played(desk: Desk, database_url: str) -> dict[str, str]:
    """Six conversations, five of them started in DAY0..DAY1:
    - answered: the bot greets and answers (DAY0 10:00);
    - alice: handed off, Alice claims (11:05), replies at +30 s and +90 s, resolves after
      600 s handled (660 s since the handoff), rated 5 (DAY0 11:00);
    - bob: greeted, then handed off, Bob claims and resolves without replying, 120 s handled
      (200 s since the handoff), rated 3 (DAY1 09:00);
    - queued: asks where an order is, then for a person; still waiting (DAY1 10:00);
    - silent: opened, never written to (DAY1 12:00);
    - before: handed off three days before the range."""
    client = desk.client
    answered = await chat(desk, "hello", "How long does shipping take?")

    alice, _ = await desk.handed_off()
    await ok(await desk.claim(alice, desk.alice))
    for text in ("Hello, I'm Alice", "Let me check"):
        assert (await desk.agent_says(alice, desk.alice, text)).status_code == 201
    await ok(
        await client.post(f"/api/v1/agent/conversations/{alice[0]}/resolve", headers=desk.alice)
    )
    await rate(desk, alice, 5)

    bob = await chat(desk, "hi", HUMAN_PLEASE)
    await ok(await desk.claim(bob, desk.bob))
    await ok(await client.post(f"/api/v1/agent/conversations/{bob[0]}/resolve", headers=desk.bob))
    await rate(desk, bob, 3)

    queued = await chat(desk, "where is my order", HUMAN_PLEASE)
    silent = await open_conversation(client)
    before, _ = await desk.handed_off()

    await retime(database_url, answered[0], at(DAY0, 10))
    await retime(
        database_url,
        alice[0],
        at(DAY0, 11),
        {
            "conversation.assigned": [300],
            "agent.message": [330, 390],
            "conversation.resolved": [900],
            "csat.submitted": [960],
        },
        {"conversation.resolved": {"handled_seconds": 600.0, "since_handoff_seconds": 660.0}},
    )
    await retime(
        database_url,
        bob[0],
        at(DAY1, 9),
        {"conversation.assigned": [60], "conversation.resolved": [200], "csat.submitted": [300]},
        {"conversation.resolved": {"handled_seconds": 120.0, "since_handoff_seconds": 200.0}},
    )
    await retime(database_url, queued[0], at(DAY1, 10))
    await retime(database_url, silent[0], at(DAY1, 12))
    await retime(database_url, before[0], at(DAY0 - timedelta(days=3), 8))
    return {
        "answered": answered[0],
        "alice": alice[0],
        "bob": bob[0],
        "queued": queued[0],
        "silent": silent[0],
        "before": before[0],
    }


async def test_summary_figures(desk: Desk, played: dict[str, str]) -> None:
    body = (await ok(await desk.client.get(SUMMARY, params=RANGE, headers=desk.admin))).json()
    assert (body["start"], body["end"], body["days"]) == ("2024-03-10", "2024-03-11", 2)
    assert body["per_day"] == [
        {"date": "2024-03-10", "conversations": 2, "engaged": 2, "handed_off": 1},
        {"date": "2024-03-11", "conversations": 3, "engaged": 2, "handed_off": 2},
    ]
    assert body["conversations"] == {
        "total": 5,
        "engaged": 4,
        "contained": 1,
        "handed_off": 3,
        "containment_rate": 0.25,
        "handoff_rate": 0.75,
    }
    assert body["handoffs"] == {
        "total": 3,
        "by_reason": [{"reason": "explicit_request", "count": 3, "share": 1.0}],
    }
    assert body["csat"] == {
        "count": 2,
        "average": 4.0,
        "resolutions": 2,
        "response_rate": 1.0,
        "distribution": [
            {"score": 1, "count": 0},
            {"score": 2, "count": 0},
            {"score": 3, "count": 1},
            {"score": 4, "count": 0},
            {"score": 5, "count": 1},
        ],
    }
    # Alice's first reply came 30 s after her claim (the second one does not count); Bob never
    # replied before resolving.
    assert body["first_response"] == {
        "count": 1,
        "median_seconds": 30.0,
        "p90_seconds": 30.0,
        "unanswered": 1,
    }
    assert body["resolution"] == {
        "handled": {"count": 2, "median_seconds": 360.0, "p90_seconds": 552.0},
        "since_handoff": {"count": 2, "median_seconds": 430.0, "p90_seconds": 614.0},
    }
    agents = {a["name"]: a for a in body["agents"]}
    assert list(agents) == ["Alice", "Bob"]
    assert agents["Alice"] == {
        "agent_id": desk.alice_id,
        "name": "Alice",
        "assignments": 1,
        "first_response": {
            "count": 1,
            "median_seconds": 30.0,
            "p90_seconds": 30.0,
            "unanswered": 0,
        },
        "resolutions": 1,
        "resolution": {"count": 1, "median_seconds": 600.0, "p90_seconds": 600.0},
        "csat_count": 1,
        "csat_average": 5.0,
    }
    assert agents["Bob"]["assignments"] == 1
    assert agents["Bob"]["first_response"]["unanswered"] == 1
    assert agents["Bob"]["first_response"]["median_seconds"] is None
    assert agents["Bob"]["resolution"]["median_seconds"] == 120.0
    assert (agents["Bob"]["csat_count"], agents["Bob"]["csat_average"]) == (1, 3.0)

    # Greeted in two conversations, one of them later handed off; the order question was
    # followed by a request for a person. Answers from the knowledge base have no intent.
    assert body["intents"][0] == {
        "intent": "greeting",
        "turns": 2,
        "conversations": 2,
        "contained": 1,
        "containment_rate": 0.5,
    }
    assert body["intents"][1]["intent"] == "order_status"
    assert body["intents"][1]["conversations"] == 1
    assert body["intents"][1]["contained"] == 0
    assert len(body["intents"]) == 2


async def test_a_narrower_range(desk: Desk, played: dict[str, str]) -> None:
    params = {"from": DAY1.isoformat(), "to": DAY1.isoformat()}
    body = (await ok(await desk.client.get(SUMMARY, params=params, headers=desk.admin))).json()
    assert body["conversations"]["total"] == 3
    assert body["handoffs"]["total"] == 2
    assert body["csat"]["count"] == 1 and body["csat"]["average"] == 3.0
    assert body["first_response"]["count"] == 0 and body["first_response"]["unanswered"] == 1
    assert [a["name"] for a in body["agents"]] == ["Bob"]
    # The conversation handed off before the range is in a range of its own.
    params = {
        "from": (DAY0 - timedelta(days=3)).isoformat(),
        "to": (DAY0 - timedelta(days=3)).isoformat(),
    }
    body = (await ok(await desk.client.get(SUMMARY, params=params, headers=desk.admin))).json()
    assert body["conversations"]["total"] == 1
    assert body["handoffs"]["by_reason"] == [
        {"reason": "explicit_request", "count": 1, "share": 1.0}
    ]


@pytest.mark.parametrize("page", [500, 2])
async def test_csv_has_one_row_per_conversation(
    desk: Desk, played: dict[str, str], page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "CSV_PAGE", page)
    response = await ok(await desk.client.get(CSV, params=RANGE, headers=desk.admin))
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["id"] for r in rows] == [
        played[k] for k in ("answered", "alice", "bob", "queued", "silent")
    ]
    by_id = {r["id"]: r for r in rows}
    assert by_id[played["alice"]] == {
        "id": played["alice"],
        "created_at": "2024-03-10T11:00:00+00:00",
        "status": "resolved",
        "handed_off": "true",
        "handoff_reason": "explicit_request",
        "agent": "Alice",
        "first_response_seconds": "30",
        "resolution_seconds": "600",
        "csat": "5",
        "messages": "4",  # the customer's, the bot's and Alice's two (not system notices)
    }
    bob = by_id[played["bob"]]
    assert (bob["agent"], bob["first_response_seconds"], bob["resolution_seconds"]) == (
        "Bob",
        "",
        "120",
    )
    assert bob["csat"] == "3"
    queued = by_id[played["queued"]]
    assert (queued["status"], queued["handed_off"], queued["agent"]) == ("queued", "true", "")
    answered = by_id[played["answered"]]
    assert (answered["status"], answered["handed_off"], answered["messages"]) == (
        "bot",
        "false",
        "4",
    )
    silent = by_id[played["silent"]]
    assert (silent["messages"], silent["handoff_reason"], silent["csat"]) == ("0", "", "")


async def test_default_range_and_empty_database(desk: Desk) -> None:
    body = (await ok(await desk.client.get(SUMMARY, headers=desk.admin))).json()
    today = datetime.now(UTC).date()
    assert body["end"] == today.isoformat()
    assert body["start"] == (today - timedelta(days=29)).isoformat()
    assert body["days"] == 30 and len(body["per_day"]) == 30
    assert body["conversations"]["containment_rate"] is None
    assert body["csat"]["average"] is None and body["csat"]["response_rate"] is None
    assert body["first_response"]["median_seconds"] is None
    response = await ok(await desk.client.get(CSV, headers=desk.admin))
    assert response.text.splitlines() == [",".join(service.CSV_COLUMNS)]


async def test_admins_only_and_bad_ranges(desk: Desk) -> None:
    client = desk.client
    for path in (SUMMARY, CSV):
        assert (await client.get(path, headers=desk.alice)).status_code == 403
        assert (await client.get(path)).status_code == 401
        for params in (
            {"from": "2024-03-11", "to": "2024-03-10"},  # from after to
            {"from": "2023-01-01", "to": "2024-01-02"},  # 367 days
            {"from": "2024-13-01"},  # not a date
            {"to": "yesterday"},
        ):
            response = await client.get(path, params=params, headers=desk.admin)
            assert response.status_code == 422, (path, params, response.text)
            assert response.json()["error"]["message"]
    # 366 days is allowed.
    params = {"from": "2023-01-01", "to": "2024-01-01"}
    body = (await ok(await client.get(SUMMARY, params=params, headers=desk.admin))).json()
    assert body["days"] == 366
