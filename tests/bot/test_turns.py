"""A customer asks and the bot answers from the right article, or says it is not sure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.kb.loader import load_folder
from app.policy.settings import DEFAULT_ANSWER_THRESHOLD
from tests.conftest import SHIPPED_KB, ask, open_conversation

TITLES = {a.slug: a.title for a in load_folder(SHIPPED_KB)}

# Paraphrases written for the test, not copied from the articles' alternate questions.
CASES = [
    ("my password reset link never showed up in my inbox", "reset-email-not-received"),
    ("can I split my payment with klarna?", "klarna"),
    ("do you deliver to Toronto", "shipping-to-canada"),
    ("what does the warranty cover on a blender that broke?", "warranty-coverage"),
    ("they sent me a different product than the one I ordered", "wrong-item-received"),
    ("how do I permanently close my account", "delete-account"),
    ("how many days until my money is back after returning something", "refund-timing"),
]


@pytest.mark.parametrize(("question", "slug"), CASES, ids=[c[1] for c in CASES])
async def test_answer_cites_the_right_article(
    client: httpx.AsyncClient, question: str, slug: str
) -> None:
    opened = await open_conversation(client)
    response = await ask(client, opened, question)
    assert response.status_code == 201, response.text
    body = response.json()
    reply = body["reply"]
    assert reply["kind"] == "answer"
    assert reply["sources"][0]["title"] == TITLES[slug]
    assert reply["confidence"] == reply["sources"][0]["score"]
    assert reply["seq"] == body["message"]["seq"] + 1
    assert body["message"] == {
        "seq": 1,
        "author": "customer",
        "text": question,
        "created_at": body["message"]["created_at"],
        "client_id": None,
        "meta": {},
    }
    assert reply["reason"] == "kb_match"
    assert body["signals"]["kb_top_score"] == reply["confidence"]


async def test_unrelated_question_gets_clarify_with_closest_topics(
    client: httpx.AsyncClient,
) -> None:
    opened = await open_conversation(client)
    response = await ask(client, opened, "what is the boiling point of tungsten on mars")
    reply = response.json()["reply"]
    assert reply["kind"] == "clarify"
    assert reply["reason"] == "low_confidence"
    assert reply["confidence"] < DEFAULT_ANSWER_THRESHOLD
    assert "not sure" in reply["text"].lower() or "couldn't find" in reply["text"].lower()
    for suggestion in reply["suggestions"]:
        assert suggestion["title"] in reply["text"]


@pytest.mark.parametrize(
    ("threshold", "kind"), [(0.0, "answer"), (0.999, "clarify")], ids=["low", "high"]
)
async def test_answer_threshold_is_a_setting(
    start_app: Callable[..., Any], threshold: float, kind: str
) -> None:
    async with start_app(policy={"answer_threshold": threshold}) as client:
        opened = await open_conversation(client)
        response = await ask(client, opened, "can I pay in installments?")
        reply = response.json()["reply"]
        assert reply["kind"] == kind
        if kind == "clarify":
            assert reply["suggestions"], "closest topics are offered when unsure"
            assert reply["suggestions"][0]["title"] == reply["sources"][0]["title"]


async def test_messages_are_listed_in_order_after_a_seq(client: httpx.AsyncClient) -> None:
    opened = await open_conversation(client)
    conversation_id, headers = opened
    for question in ["do you ship to canada", "how do I reset my password"]:
        assert (await ask(client, opened, question)).status_code == 201
    url = f"/api/v1/conversations/{conversation_id}/messages"
    everything = (await client.get(url, headers=headers)).json()
    assert [(m["seq"], m["author"]) for m in everything["messages"]] == [
        (1, "customer"),
        (2, "bot"),
        (3, "customer"),
        (4, "bot"),
    ]
    assert everything["last_seq"] == 4
    assert everything["has_more"] is False
    bot = everything["messages"][1]
    assert bot["meta"]["kind"] == "answer"
    assert bot["meta"]["sources"][0]["title"] == TITLES["shipping-to-canada"]
    assert "signals" not in bot["meta"]

    after = (await client.get(url, params={"after": 2}, headers=headers)).json()
    assert [m["seq"] for m in after["messages"]] == [3, 4]
    page = (await client.get(url, params={"after": 0, "limit": 3}, headers=headers)).json()
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3]
    assert page["has_more"] is True
    assert (await client.get(url, params={"after": 4}, headers=headers)).json()["messages"] == []


async def test_conversation_status_is_readable_by_its_customer(client: httpx.AsyncClient) -> None:
    conversation_id, headers = await open_conversation(client)
    response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "bot"
    assert response.json()["last_seq"] == 0


async def test_a_repeated_question_is_answered_from_the_embedding_cache(
    client: httpx.AsyncClient,
) -> None:
    """Another customer asking the same thing (case and spacing aside) gets the same answer
    without a second encode; /readyz counts the cache's hits and misses."""
    before = (await client.get("/readyz")).json()["encoder"]
    first = await ask(client, await open_conversation(client), "Do you ship to Canada?")
    again = await ask(client, await open_conversation(client), "  do you SHIP to   canada? ")
    after = (await client.get("/readyz")).json()["encoder"]
    assert first.status_code == again.status_code == 201
    one, two = first.json(), again.json()
    assert one["reply"]["sources"][0]["title"] == TITLES["shipping-to-canada"]
    assert two["reply"]["text"] == one["reply"]["text"]
    assert two["signals"] == one["signals"]
    assert after["cache_hits"] - before["cache_hits"] == 1
    assert after["cache_misses"] - before["cache_misses"] == 1
    assert after["texts"] - before["texts"] == 1  # the encoder saw the question once
    assert after["cache_entries"] >= 1
