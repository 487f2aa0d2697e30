"""Working a conversation: the bot's silence, agent replies, notes, resolve and rating,
hand-back, transfer, agent assist, canned responses, presence and the conversation views."""

from __future__ import annotations

from tests.agents.conftest import Desk
from tests.conftest import ask


async def test_only_the_assigned_agent_replies_and_the_bot_stays_silent(desk: Desk) -> None:
    opened, _ = await desk.handed_off()
    early = await desk.agent_says(opened, desk.alice, "Hi!")
    assert early.status_code == 409 and "claim it" in early.json()["error"]["message"]
    assert (await desk.claim(opened, desk.alice)).status_code == 200
    other = await desk.agent_says(opened, desk.bob, "I'm Bob")
    assert other.status_code == 403 and "Alice" in other.json()["error"]["message"]

    sent = await desk.agent_says(
        opened, desk.alice, "Hi, I'm Alice. How can I help?", client_id="a1"
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()["message"]
    assert message["author"] == "agent" and message["meta"]["agent_name"] == "Alice"
    retry = await desk.agent_says(
        opened, desk.alice, "Hi, I'm Alice. How can I help?", client_id="a1"
    )
    assert retry.status_code == 200 and retry.json()["message"]["seq"] == message["seq"]

    # The customer writes: no bot reply; the agent reads it.
    turn = await ask(desk.client, opened, "How do I reset my password?")
    assert turn.status_code == 201 and turn.json()["reply"] is None
    messages = await desk.customer_messages(opened)
    assert [m["author"] for m in messages][-3:] == ["system", "agent", "customer"]
    assert not any(m["author"] == "bot" and m["seq"] > message["seq"] for m in messages)
    staff = await desk.client.get(
        f"/api/v1/agent/conversations/{opened[0]}/messages",
        params={"after": message["seq"]},
        headers=desk.alice,
    )
    assert [m["text"] for m in staff.json()["messages"]] == ["How do I reset my password?"]


async def test_notes_stay_internal(desk: Desk) -> None:
    opened, _ = await desk.handed_off()
    note = await desk.client.post(
        f"/api/v1/agent/conversations/{opened[0]}/notes",
        json={"text": "VIP customer, be nice"},
        headers=desk.bob,
    )
    assert note.status_code == 201, note.text
    assert note.json()["author"] == {"id": desk.bob_id, "name": "Bob"}
    blank = await desk.client.post(
        f"/api/v1/agent/conversations/{opened[0]}/notes", json={"text": "  "}, headers=desk.bob
    )
    assert blank.status_code == 422
    assert all("VIP" not in m["text"] for m in await desk.customer_messages(opened))
    customer_view = await desk.client.get(f"/api/v1/conversations/{opened[0]}", headers=opened[1])
    assert "VIP" not in customer_view.text
    assert [n["text"] for n in (await desk.staff_view(opened))["notes"]] == [
        "VIP customer, be nice"
    ]


async def test_resolve_asks_for_one_rating_per_resolution(desk: Desk) -> None:
    opened, _ = await desk.handed_off()
    csat_url = f"/api/v1/conversations/{opened[0]}/csat"
    early = await desk.client.post(csat_url, json={"score": 5}, headers=opened[1])
    assert early.status_code == 409
    await desk.claim(opened, desk.alice)
    assert (
        await desk.client.post(f"/api/v1/agent/conversations/{opened[0]}/resolve", headers=desk.bob)
    ).status_code == 403
    resolved = await desk.client.post(
        f"/api/v1/agent/conversations/{opened[0]}/resolve", headers=desk.alice
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    last = (await desk.customer_messages(opened))[-1]
    assert last["meta"]["kind"] == "csat_request" and "1 (poor) to 5" in last["text"]
    view = (await desk.client.get(f"/api/v1/conversations/{opened[0]}", headers=opened[1])).json()
    assert view["status"] == "resolved" and view["csat_pending"] is True

    for bad in (0, 6, "five"):
        response = await desk.client.post(csat_url, json={"score": bad}, headers=opened[1])
        assert response.status_code == 422, bad
    rated = await desk.client.post(
        csat_url, json={"score": 4, "comment": "quick, thanks"}, headers=opened[1]
    )
    assert rated.status_code == 201, rated.text
    assert rated.json()["resolution"] == 1
    twice = await desk.client.post(csat_url, json={"score": 5}, headers=opened[1])
    assert twice.status_code == 409
    stranger = await desk.client.post(csat_url, json={"score": 1}, headers=desk.alice)
    assert stranger.status_code == 403
    staff = await desk.staff_view(opened)
    assert [(r["score"], r["comment"]) for r in staff["ratings"]] == [(4, "quick, thanks")]

    # Writing again reopens the conversation with the bot, which answers.
    again = await ask(desk.client, opened, "How do I reset my password?")
    assert again.status_code == 201 and again.json()["reply"]["kind"] == "answer"
    assert (await desk.staff_view(opened))["status"] == "bot"


async def test_handback_resumes_the_bot_without_a_handoff_loop(desk: Desk) -> None:
    opened, reply = await desk.handed_off(
        "This is useless, I'm furious and fed up with this awful service"
    )
    assert reply["handoff_reason"] in ("negative_sentiment", "explicit_request", "low_confidence")
    await desk.claim(opened, desk.alice)
    await desk.agent_says(opened, desk.alice, "Sorry about that, it's fixed now.")
    back = await desk.client.post(
        f"/api/v1/agent/conversations/{opened[0]}/handback", headers=desk.alice
    )
    assert back.status_code == 200 and back.json()["status"] == "bot"
    assert (await desk.customer_messages(opened))[-1]["meta"]["kind"] == "handback"
    # The bot does not re-read the old messages; a new question gets an answer.
    turn = await ask(desk.client, opened, "How do I reset my password?")
    body = turn.json()
    assert body["reply"]["kind"] == "answer", body["reply"]
    view = await desk.staff_view(opened)
    assert view["status"] == "bot" and view["agent"] is None
    assert [e["type"] for e in view["events"]].count("conversation.handoff") == 1
    # Handing back twice is refused.
    again = await desk.client.post(
        f"/api/v1/agent/conversations/{opened[0]}/handback", headers=desk.alice
    )
    assert again.status_code == 409


async def test_transfer_moves_ownership(desk: Desk) -> None:
    opened, _ = await desk.handed_off()
    await desk.claim(opened, desk.alice)
    url = f"/api/v1/agent/conversations/{opened[0]}/transfer"
    assert (
        await desk.client.post(url, json={"agent_id": 99999}, headers=desk.alice)
    ).status_code == 404
    assert (
        await desk.client.post(url, json={"agent_id": desk.alice_id}, headers=desk.alice)
    ).status_code == 409
    assert (
        await desk.client.post(url, json={"agent_id": desk.alice_id}, headers=desk.bob)
    ).status_code == 403
    moved = await desk.client.post(url, json={"agent_id": desk.bob_id}, headers=desk.alice)
    assert moved.status_code == 200, moved.text
    assert moved.json()["agent"] == {"id": desk.bob_id, "name": "Bob"}
    assert (await desk.agent_says(opened, desk.alice, "still me?")).status_code == 403
    assert (await desk.agent_says(opened, desk.bob, "Bob here")).status_code == 201
    assert (await desk.customer_messages(opened))[-2][
        "text"
    ] == "Bob is taking over the conversation."


async def test_agent_assist_suggests_articles_for_the_latest_message(desk: Desk) -> None:
    opened, _ = await desk.handed_off()
    await desk.claim(opened, desk.alice)
    await ask(desk.client, opened, "how long does a refund take to reach my card?")
    response = await desk.client.get(
        f"/api/v1/agent/conversations/{opened[0]}/assist", headers=desk.alice
    )
    assert response.status_code == 200, response.text
    assist = response.json()
    assert assist["message"]["text"] == "how long does a refund take to reach my card?"
    assert assist["articles"], assist
    top = assist["articles"][0]
    assert "refund" in (top["title"] + top["body"]).lower() and top["body"]
    assert assist["intent"] is None or assist["intent"]["name"]


async def test_canned_responses_are_managed_by_admins(desk: Desk) -> None:
    body = {"shortcut": "refund-time", "title": "Refund timing", "text": "Refunds take 5 days."}
    denied = await desk.client.post("/api/v1/admin/canned", json=body, headers=desk.alice)
    assert denied.status_code == 403
    created = await desk.client.post("/api/v1/admin/canned", json=body, headers=desk.admin)
    assert created.status_code == 201, created.text
    duplicate = await desk.client.post("/api/v1/admin/canned", json=body, headers=desk.admin)
    assert duplicate.status_code == 409
    bad = await desk.client.post(
        "/api/v1/admin/canned", json={**body, "shortcut": "Has Spaces"}, headers=desk.admin
    )
    assert bad.status_code == 422
    canned_id = created.json()["id"]
    updated = await desk.client.put(
        f"/api/v1/admin/canned/{canned_id}",
        json={**body, "text": "Refunds take 3-5 business days."},
        headers=desk.admin,
    )
    assert updated.status_code == 200
    listed = await desk.client.get("/api/v1/agent/canned", headers=desk.alice)
    assert [c["text"] for c in listed.json()] == ["Refunds take 3-5 business days."]
    gone = await desk.client.delete(f"/api/v1/admin/canned/{canned_id}", headers=desk.admin)
    assert gone.status_code == 204
    assert (await desk.client.get("/api/v1/agent/canned", headers=desk.alice)).json() == []


async def test_presence_and_deactivation_requeue(desk: Desk) -> None:
    await desk.online(desk.alice)
    presence = (await desk.client.get("/api/v1/agent/presence", headers=desk.bob)).json()
    by_name = {p["name"]: p for p in presence}
    assert by_name["Alice"]["online"] is True and by_name["Bob"]["online"] is False
    opened, _ = await desk.handed_off()
    await desk.claim(opened, desk.alice)
    assert by_name["Alice"]["open_conversations"] == 0
    away = await desk.client.put(
        "/api/v1/agent/presence", json={"status": "away"}, headers=desk.alice
    )
    alice = next(p for p in away.json() if p["name"] == "Alice")
    assert alice["online"] is False and alice["open_conversations"] == 1
    # An admin deactivates Alice: her conversation goes back to the queue.
    gone = await desk.client.post(
        f"/api/v1/admin/users/{desk.alice_id}/deactivate", headers=desk.admin
    )
    assert gone.status_code == 200, gone.text
    view = await desk.staff_view(opened)
    assert view["status"] == "queued" and view["agent"] is None
    assert (await desk.claim(opened, desk.bob)).status_code == 200


async def test_conversation_view_for_customer_and_staff(desk: Desk) -> None:
    opened, _ = await desk.handed_off()
    await desk.claim(opened, desk.alice)
    url = f"/api/v1/conversations/{opened[0]}"
    customer = (await desk.client.get(url, headers=opened[1])).json()
    assert customer["agent"] == {"name": "Alice"}
    assert "events" not in customer and "handoff" not in customer
    staff = await desk.client.get(url, headers=desk.bob)
    assert staff.status_code == 200, staff.text
    view = staff.json()
    types = [e["type"] for e in view["events"]]
    assert types[0] == "conversation.created"
    assert "conversation.handoff" in types and types[-1] == "conversation.assigned"
    assert view["handoff"]["reason"] == "explicit_request"
    assert view["agent"] == {"id": desk.alice_id, "name": "Alice"}
    bot = next(m for m in view["messages"] if m["author"] == "bot")
    assert "signals" in bot["meta"] and "policy_input" not in bot["meta"]
    other, _ = await desk.handed_off()
    wrong = await desk.client.get(url, headers=other[1])
    assert wrong.status_code == 403


async def test_a_rating_typed_in_the_chat_is_recorded(desk: Desk) -> None:
    opened, _ = await desk.handed_off()
    await desk.claim(opened, desk.alice)
    await desk.client.post(f"/api/v1/agent/conversations/{opened[0]}/resolve", headers=desk.alice)
    rated = await ask(desk.client, opened, "5/5")
    assert rated.status_code == 201 and rated.json()["reply"] is None
    assert (await desk.customer_messages(opened))[-1]["text"] == "Thank you for your rating (5/5)!"
    view = await desk.staff_view(opened)
    assert view["status"] == "resolved"
    assert [(r["score"], r["resolution"]) for r in view["ratings"]] == [(5, 1)]
    submitted = [e for e in view["events"] if e["type"] == "csat.submitted"]
    assert submitted[0]["data"] == {
        "score": 5,
        "resolution": 1,
        "agent_id": desk.alice_id,
        "via": "chat",
    }
    # Once rated, a number is just a message: the conversation reopens with the bot.
    again = await ask(desk.client, opened, "4")
    assert again.json()["reply"] is not None
    assert (await desk.staff_view(opened))["status"] == "bot"


async def test_the_form_rates_the_last_resolution_even_after_the_customer_wrote_again(
    desk: Desk,
) -> None:
    opened, _ = await desk.handed_off()
    await desk.claim(opened, desk.alice)
    await desk.client.post(f"/api/v1/agent/conversations/{opened[0]}/resolve", headers=desk.alice)
    await ask(desk.client, opened, "How do I reset my password?")
    rated = await desk.client.post(
        f"/api/v1/conversations/{opened[0]}/csat", json={"score": 3}, headers=opened[1]
    )
    assert rated.status_code == 201, rated.text
    ratings = (await desk.staff_view(opened))["ratings"]
    assert [(r["score"], r["agent_id"]) for r in ratings] == [(3, desk.alice_id)]


async def test_admin_handback_and_transfer_record_the_previous_owner(desk: Desk) -> None:
    first, _ = await desk.handed_off()
    await desk.claim(first, desk.alice)
    back = await desk.client.post(
        f"/api/v1/agent/conversations/{first[0]}/handback", headers=desk.admin
    )
    assert back.status_code == 200
    event = next(
        e for e in (await desk.staff_view(first))["events"] if e["type"] == "conversation.handback"
    )
    assert event["data"]["agent_id"] == desk.alice_id
    second, _ = await desk.handed_off()
    await desk.claim(second, desk.alice)
    moved = await desk.client.post(
        f"/api/v1/agent/conversations/{second[0]}/transfer",
        json={"agent_id": desk.bob_id},
        headers=desk.admin,
    )
    assert moved.status_code == 200
    event = next(
        e
        for e in (await desk.staff_view(second))["events"]
        if e["type"] == "conversation.transferred"
    )
    assert event["data"]["from"] == desk.alice_id and event["data"]["to"] == desk.bob_id
    huge = await desk.client.post(
        f"/api/v1/agent/conversations/{second[0]}/transfer",
        json={"agent_id": 2**70},
        headers=desk.admin,
    )
    assert huge.status_code == 422


async def test_client_ids_are_per_author_and_agent_retries_survive_resolve(desk: Desk) -> None:
    opened, _ = await desk.handed_off()
    await desk.claim(opened, desk.alice)
    assert (await ask(desk.client, opened, "hello?", client_id="m-1")).status_code == 201
    sent = await desk.agent_says(opened, desk.alice, "Hi there", client_id="m-1")
    assert sent.status_code == 201, sent.text
    mine = [m for m in await desk.customer_messages(opened) if m["author"] == "agent"]
    assert mine[0]["client_id"] is None and "agent_id" not in mine[0]["meta"]
    await desk.client.post(f"/api/v1/agent/conversations/{opened[0]}/resolve", headers=desk.alice)
    retry = await desk.agent_says(opened, desk.alice, "Hi there", client_id="m-1")
    assert (
        retry.status_code == 200 and retry.json()["message"]["seq"] == sent.json()["message"]["seq"]
    )


async def test_agents_claim_before_resolving_and_signing_off_requeues(desk: Desk) -> None:
    opened, _ = await desk.handed_off()
    url = f"/api/v1/agent/conversations/{opened[0]}/resolve"
    refused = await desk.client.post(url, headers=desk.bob)
    assert refused.status_code == 409 and "claim it" in refused.json()["error"]["message"]
    await desk.online(desk.alice)
    await desk.claim(opened, desk.alice)
    off = await desk.client.put(
        "/api/v1/agent/presence", json={"status": "offline"}, headers=desk.alice
    )
    assert off.status_code == 200
    assert (await desk.staff_view(opened))["status"] == "queued"
    spam, _ = await desk.handed_off()
    closed = await desk.client.post(
        f"/api/v1/agent/conversations/{spam[0]}/resolve", headers=desk.admin
    )
    assert closed.status_code == 200 and closed.json()["status"] == "resolved"
