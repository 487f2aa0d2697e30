"""Built-in small talk through the HTTP API, with the shipped intents and with an intents folder
that holds none (a business with only a knowledge base): greetings, thanks, acknowledgements,
goodbyes and "are you a bot?" get replies that fit the moment and never hand off, however
many; a greeting with a question is the question."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, ask, open_conversation, owner_of, signed

SMALL_TALK = [
    ("hello", "greeting"),
    ("ok", "acknowledgement"),
    ("got it", "acknowledgement"),
    ("cheers", "acknowledgement"),
    ("perfect", "acknowledgement"),
    ("thanks", "thanks"),
    ("are you a bot?", "bot_question"),
    ("am I talking to a real person?", "bot_question"),
    ("bye", "goodbye"),
]


@pytest.fixture(params=["shipped intents", "no intents"])
def intents_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "shipped intents":
        return REPO / "intents"
    empty = tmp_path / "no-intents"
    empty.mkdir()
    return empty


@pytest.fixture
def chat(start_app: Callable[..., Any], intents_dir: Path) -> Callable[..., Any]:
    """`async with chat() as say:` one fresh conversation; `await say(text)` is the reply."""

    @asynccontextmanager
    async def _open() -> AsyncIterator[Callable[..., Any]]:
        async with start_app(intents_dir=intents_dir) as client:
            yield await _conversation(client)

    return _open


async def _conversation(client: httpx.AsyncClient) -> Callable[..., Any]:
    opened = await open_conversation(client)

    async def say(text: str) -> dict[str, Any]:
        response = await ask(client, opened, text)
        assert response.status_code == 201, response.text
        return response.json()["reply"]  # type: ignore[no-any-return]

    say.client = client  # type: ignore[attr-defined]
    return say


async def test_small_talk_never_hands_off_however_many(chat: Callable[..., Any]) -> None:
    async with chat() as say:
        for _ in range(3):
            for text, act in SMALL_TALK:
                reply = await say(text)
                assert (reply["kind"], reply["intent"]) == ("smalltalk", act), (text, reply)
                assert reply["handoff_reason"] is None
                assert reply["text"]
        # Still the bot's conversation: a question is answered.
        assert (await say("do you ship to canada?"))["kind"] == "answer"


async def test_replies_fit_the_moment(chat: Callable[..., Any], intents_dir: Path) -> None:
    async with chat() as say:
        hello = await say("hi")
        assert hello["kind"] == "smalltalk"
        assert hello["text"].startswith("Hi!") and hello["text"].endswith("?")  # invites it
        answer = await say("do you ship to canada?")
        assert answer["kind"] == "answer"
        closing = await say("ok thanks")
        assert (closing["kind"], closing["intent"]) == ("smalltalk", "thanks")
        assert closing["text"].startswith("Glad I could help")
        bot = await say("are you a bot?")
        assert "automated assistant" in bot["text"]
        assert "bye" in (await say("that's all, bye"))["text"].lower()


async def test_a_greeting_with_a_question_is_the_question(chat: Callable[..., Any]) -> None:
    async with chat() as say:
        for text in ("hi, where is my order?", "hello, do you ship to canada?"):
            reply = await say(text)
            assert reply["kind"] != "smalltalk", (text, reply)


async def test_ok_while_a_slot_is_awaited_asks_again_and_is_no_miss(
    start_app: Callable[..., Any],
) -> None:
    async with start_app() as client:
        opened = await open_conversation(client, signed(owner_of("LS-10041")))
        asked = (await ask(client, opened, "where is my order")).json()["reply"]
        assert (asked["kind"], asked["intent"]) == ("ask", "order_status")
        for text in ("ok", "thanks", "ok", "got it"):  # more than max_misses
            again = (await ask(client, opened, text)).json()["reply"]
            assert (again["kind"], again["reason"]) == ("ask", "smalltalk"), (text, again)
        done = (await ask(client, opened, "it's LS-10041")).json()["reply"]
        assert (done["kind"], done["intent"]) == ("intent", "order_status")
