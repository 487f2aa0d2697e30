"""A message that leans on the previous turn is read in the conversation's context; a real
change of topic is still read alone; a new intent takes over the order the conversation is on."""

from __future__ import annotations

import httpx

from app.kb.loader import load_folder
from tests.conftest import SHIPPED_KB, ask, open_conversation, owner_of, signed

TITLES = {a.slug: a.title for a in load_folder(SHIPPED_KB)}

# (first question, follow-up that leans on it, the article that answers the follow-up)
FOLLOW_UPS = [
    ("do you ship to canada?", "how much does that cost?", "shipping-to-canada"),
    ("can I pay in instalments with klarna", "is there interest on that?", "klarna"),
    ("do you sell gift cards", "do they expire?", "gift-cards"),
    ("how do I send something back", "is there a fee for that?", "how-to-start-a-return"),
]


async def _answer(client: httpx.AsyncClient, opened: tuple[str, dict[str, str]], text: str) -> dict:
    response = await ask(client, opened, text)
    assert response.status_code == 201, response.text
    return response.json()["reply"]  # type: ignore[no-any-return]


async def test_follow_ups_resolve_to_the_article_they_lean_on(client: httpx.AsyncClient) -> None:
    for first, follow_up, slug in FOLLOW_UPS:
        opened = await open_conversation(client)
        await _answer(client, opened, first)
        reply = await _answer(client, opened, follow_up)
        assert reply["kind"] == "answer", (follow_up, reply)
        assert reply["sources"][0]["title"] == TITLES[slug], (follow_up, reply["sources"])


async def test_a_change_of_topic_is_read_alone(client: httpx.AsyncClient) -> None:
    opened = await open_conversation(client)
    await _answer(client, opened, "how do I send something back")
    reply = await _answer(client, opened, "do you ship to canada?")
    assert reply["kind"] == "answer"
    assert reply["sources"][0]["title"] == TITLES["shipping-to-canada"]
    # Small talk in between does not lose the topic.
    opened = await open_conversation(client)
    await _answer(client, opened, "do you ship to canada?")
    await _answer(client, opened, "ok")
    reply = await _answer(client, opened, "how much does that cost?")
    assert reply["sources"][0]["title"] == TITLES["shipping-to-canada"], reply


async def test_staff_see_which_reading_the_policy_used(
    admin_client: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, admin = admin_client
    opened = await open_conversation(client)
    await _answer(client, opened, "do you ship to canada?")
    await _answer(client, opened, "how much does that cost?")
    view = await client.get(f"/api/v1/conversations/{opened[0]}", headers=admin)
    assert view.status_code == 200, view.text
    first, follow_up = [
        m["meta"]["decision"] for m in view.json()["messages"] if m["author"] == "bot"
    ]
    assert first["reading"] == "alone" and "context" not in first
    assert follow_up["reading"] == "context" and follow_up["followup_cue"] is True
    assert follow_up["context"]["kb_confidence"] > follow_up["alone"]["kb_confidence"]


async def test_cancel_it_takes_over_the_order_the_conversation_is_on(
    client: httpx.AsyncClient,
) -> None:
    opened = await open_conversation(client, signed(owner_of("LS-10044")))
    status = await _answer(client, opened, "where is my order LS-10044?")
    assert status["kind"] == "intent" and status["intent"] == "order_status", status
    reply = await _answer(client, opened, "please cancel it")
    assert reply["intent"] == "cancel_order", reply
    assert reply["kind"] == "ask" and "LS-10044" in reply["text"], reply
