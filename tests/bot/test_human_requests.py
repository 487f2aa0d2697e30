"""Requests for a person through the HTTP API, recognised by the request model
(app/nlp/human_request.py) with the shipped intents and with none at all: the many ways people
ask hand off `explicit_request`; mentions of people that are not requests, and questions about
the bot, do not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, first_reply

REQUESTS = [
    "let me talk to a human",
    "can I speak to a supervisor?",
    "I want the manager",
    "put me through to an operator please",
    "is there an advisor I can talk to",
    "someone from support please",
    "I'd like a real person",
    "an actual human please",
    "human pls",
    "agent!!",
    "hmuan",
    "reprsentative",
]
NEAR_MISSES = [
    "my colleague placed the order",
    "can someone else collect my parcel?",
    "the delivery person left it outside",
    "is there a person I can send the return to?",
    "are you a real person?",
    "are you a bot?",
]


@pytest.fixture(params=["shipped intents", "no intents"])
def intents_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "shipped intents":
        return REPO / "intents"
    empty = tmp_path / "no-intents"
    empty.mkdir()
    return empty


async def test_requests_hand_off_and_near_misses_do_not(
    start_app: Callable[..., Any], intents_dir: Path
) -> None:
    async with start_app(intents_dir=intents_dir) as client:
        for text in REQUESTS:
            reply = await first_reply(client, text)
            assert (reply["kind"], reply["handoff_reason"]) == ("handoff", "explicit_request"), (
                text,
                reply,
            )
        for text in NEAR_MISSES:
            reply = await first_reply(client, text)
            assert reply["kind"] != "handoff", (text, reply)


async def test_the_decision_says_the_request_models_score(
    admin_client: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, admin = admin_client
    asked = await client.post("/api/v1/admin/try", json={"text": "agent pls"}, headers=admin)
    assert asked.status_code == 200, asked.text
    assert asked.json()["decision"]["human_request_score"] >= 0.5
    mention = {"text": "my colleague placed the order"}
    other = await client.post("/api/v1/admin/try", json=mention, headers=admin)
    assert other.json()["decision"]["human_request_score"] < 0.5
