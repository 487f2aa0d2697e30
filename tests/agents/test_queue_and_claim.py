"""The queue and claiming: handoff packets, priority, queue-aware notices, follow-up email,
auto-assignment, and claims racing (exactly one winner)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from app.config import AgentSettings, BusinessHours
from tests.agents.conftest import HUMAN_PLEASE, Desk
from tests.conftest import ask, make_staff


async def test_queue_lists_handoff_packet_and_last_turns(desk: Desk) -> None:
    opened, reply = await desk.handed_off()
    response = await desk.client.get("/api/v1/agent/queue", headers=desk.alice)
    assert response.status_code == 200, response.text
    queue = response.json()
    assert queue["total"] == 1
    item = queue["items"][0]
    assert item["conversation_id"] == opened[0]
    packet = item["handoff"]
    assert packet["reason"] == "explicit_request"
    assert packet["question"] == HUMAN_PLEASE
    assert packet["seq"] == reply["seq"]
    assert "asked for a person" in packet["summary"]
    assert set(packet["signals"]) >= {"intent", "kb_top_score", "sentiment", "sentiment_trend"}
    assert item["waiting_seconds"] >= 0
    texts = [m["text"] for m in item["last_messages"]]
    assert texts[0] == HUMAN_PLEASE and texts[-1] == reply["text"]


async def test_queue_puts_frustrated_customers_first(desk: Desk) -> None:
    calm, _ = await desk.handed_off("can I talk to a person")
    angry, _ = await desk.handed_off(
        "This is the worst service ever, I am furious and sick of waiting. Get me a human now!"
    )
    queue = (await desk.client.get("/api/v1/agent/queue", headers=desk.bob)).json()
    order = [i["conversation_id"] for i in queue["items"]]
    assert order == [angry[0], calm[0]], queue
    first, second = queue["items"]
    assert first["sentiment"] < second["sentiment"]
    assert first["priority"] > second["priority"]


async def test_nobody_online_asks_for_email_and_stores_it(desk: Desk) -> None:
    opened, reply = await desk.handed_off()
    assert reply["queue"]["follow_up"] is True
    assert reply["queue"]["agents_online"] == 0
    assert "email" in reply["text"]
    # The customer answers in the chat: the bot stays silent, the service confirms.
    response = await ask(desk.client, opened, "sure, it's Jo.Doe@Example.com thanks")
    assert response.status_code == 201 and response.json()["reply"] is None
    messages = await desk.customer_messages(opened)
    assert messages[-1]["author"] == "system"
    assert "Jo.Doe@example.com" in messages[-1]["text"]
    view = await desk.staff_view(opened)
    assert view["contact_email"] == "Jo.Doe@example.com"
    assert any(e["type"] == "conversation.contact" for e in view["events"])
    customer = await desk.client.get(f"/api/v1/conversations/{opened[0]}", headers=opened[1])
    assert customer.json()["contact_email_saved"] is True


async def test_contact_endpoint_validates_email(desk: Desk) -> None:
    opened, _ = await desk.handed_off()
    url = f"/api/v1/conversations/{opened[0]}/contact"
    bad = await desk.client.post(url, json={"email": "not-an-email"}, headers=opened[1])
    assert bad.status_code == 422
    assert "email" in bad.json()["error"]["message"]
    good = await desk.client.post(url, json={"email": "jo@example.org"}, headers=opened[1])
    assert good.status_code == 200 and good.json()["contact_email_saved"] is True


async def test_customer_hears_place_in_queue_when_agents_are_online(desk: Desk) -> None:
    await desk.online(desk.alice)
    _, first = await desk.handed_off()
    _, second = await desk.handed_off()
    assert first["queue"] == {
        "position": 1,
        "agents_online": 1,
        "expected_wait_seconds": None,
        "follow_up": False,
        "open_now": True,
        "assigned_to": None,
    }
    assert "number 1 in the queue" in first["text"]
    assert second["queue"]["position"] == 2


async def test_outside_business_hours_asks_for_email(start_desk: Callable[..., Any]) -> None:
    closed = AgentSettings(business_hours=BusinessHours(days=[]))
    async with start_desk(agents=closed) as desk:
        await desk.online(desk.alice)
        _, reply = await desk.handed_off()
        assert reply["queue"]["follow_up"] is True
        assert reply["queue"]["open_now"] is False
        assert "outside our opening hours" in reply["text"]


async def test_claim_assigns_and_announces(desk: Desk) -> None:
    opened, _ = await desk.handed_off()
    response = await desk.claim(opened, desk.alice)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "assigned"
    assert body["agent"] == {"id": desk.alice_id, "name": "Alice"}
    again = await desk.claim(opened, desk.bob)
    assert again.status_code == 409
    assert "Alice" in again.json()["error"]["message"]
    queue = (await desk.client.get("/api/v1/agent/queue", headers=desk.bob)).json()
    assert queue["total"] == 0
    customer = await desk.client.get(f"/api/v1/conversations/{opened[0]}", headers=opened[1])
    assert customer.json()["status"] == "assigned"
    assert customer.json()["agent"] == {"name": "Alice"}
    messages = await desk.customer_messages(opened)
    assert messages[-1]["text"] == "Alice joined the conversation."


async def test_claim_of_a_bot_conversation_or_unknown_id(desk: Desk) -> None:
    from tests.conftest import open_conversation

    opened = await open_conversation(desk.client)
    response = await desk.claim(opened, desk.alice)
    assert response.status_code == 409
    assert "not queued" in response.json()["error"]["message"]
    missing = await desk.claim(("no-such-id", {}), desk.alice)
    assert missing.status_code == 404


async def test_twenty_concurrent_claims_have_exactly_one_winner(desk: Desk) -> None:
    agents = [
        (
            await make_staff(
                desk.client,
                desk.admin,
                email=f"racer{i}@example.com",
                name=f"Racer {i}",
                role="agent",
            )
        )
        for i in range(20)
    ]
    opened, _ = await desk.handed_off()
    responses = await asyncio.gather(*(desk.claim(opened, headers) for _, headers in agents))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 19, codes
    winner = next(r.json()["agent"] for r in responses if r.status_code == 200)
    view = await desk.staff_view(opened)
    assert view["agent"] == winner
    assert [e["type"] for e in view["events"]].count("conversation.assigned") == 1
    joins = [m for m in view["messages"] if m["meta"].get("kind") == "assigned"]
    assert len(joins) == 1


async def test_auto_assignment_respects_capacity(start_desk: Callable[..., Any]) -> None:
    async with start_desk(agents=AgentSettings(auto_assign=True, capacity=1)) as desk:
        await desk.online(desk.alice)
        first, reply = await desk.handed_off()
        assert reply["queue"]["assigned_to"] == "Alice"
        assert "Alice will be with you" in reply["text"]
        assert (await desk.staff_view(first))["agent"]["name"] == "Alice"
        second, reply2 = await desk.handed_off()
        assert reply2["queue"]["assigned_to"] is None and reply2["queue"]["position"] == 1
        # Alice frees her slot: the waiting conversation comes to her.
        resolved = await desk.client.post(
            f"/api/v1/agent/conversations/{first[0]}/resolve", headers=desk.alice
        )
        assert resolved.status_code == 200, resolved.text
        view = await desk.staff_view(second)
        assert view["status"] == "assigned" and view["agent"]["name"] == "Alice"
        assigned = [e for e in view["events"] if e["type"] == "conversation.assigned"]
        assert assigned[0]["data"]["how"] == "auto"
