"""Customers type fast: misspelt, run-together and shorthand words are mended before the
models read them, the message is stored as typed, and codes and addresses are never touched."""

from __future__ import annotations

import httpx
import pytest

from app.kb.loader import load_folder
from app.nlp.spelling import Speller
from tests.conftest import SHIPPED_KB, ask, open_conversation, owner_of, signed

TITLES = {a.slug: a.title for a in load_folder(SHIPPED_KB)}

# Written for the test: the words as a hurried customer types them.
TYPED = [
    ("whats ur retrun polcy", "return-policy"),
    ("do my rewrds pionts expire", "larkspur-rewards"),
    ("the pasword reset emial never arived", "reset-email-not-received"),
    ("howlong until my refnd shows up after a return", "refund-timing"),
]


async def test_misspelt_questions_are_answered_and_stored_as_typed(
    client: httpx.AsyncClient,
) -> None:
    for typed, slug in TYPED:
        opened = await open_conversation(client)
        response = await ask(client, opened, typed)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["reply"]["kind"] == "answer", (typed, body["reply"])
        assert body["reply"]["sources"][0]["title"] == TITLES[slug], (typed, body["reply"])
        assert body["message"]["text"] == typed


async def test_a_misspelt_request_starts_the_intent(client: httpx.AsyncClient) -> None:
    opened = await open_conversation(client, signed(owner_of("LS-10041")))
    reply = (await ask(client, opened, "wher is my ordr")).json()["reply"]
    assert reply["intent"] == "order_status" and reply["kind"] == "ask", reply


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("wher is my ordr", "where is my order"),
        ("studnet discont?", "student discount?"),
        ("howlong does it take", "how long does it take"),
        ("can i get a refnd pls", "can i get a refund please"),
        # Left alone: known words, codes, addresses, capitals inside, very short words.
        ("where is my order LS-10041?", "where is my order LS-10041?"),
        ("send it to jamie@exmple.com", "send it to jamie@exmple.com"),
        ("will I pay GST/HST in Ontario?", "will I pay GST/HST in Ontario?"),
        ("teh box", "teh box"),
    ],
)
def test_what_the_speller_mends_and_what_it_leaves(typed: str, read: str) -> None:
    speller = Speller()
    speller.learn(article.body for article in load_folder(SHIPPED_KB))
    assert speller.correct(typed) == read
