"""Intent routing through the API: with an intents folder of its own and no knowledge base, the
bot routes a confident message to the classifier's top intent, and an out-of-scope message to
no intent; both routing thresholds (in scope at all, and which intent) are honoured."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from app.policy.settings import PolicySettings
from tests.conftest import ask, open_conversation

INTENTS = {
    "card_arrival": [
        "my new card still hasn't arrived",
        "when will my card be delivered",
        "I am still waiting for my card",
        "how long does it take for a card to arrive",
        "the card you sent me never came",
    ],
    "exchange_rate": [
        "what exchange rate do you use",
        "how do you convert currencies",
        "is your exchange rate fair",
        "which rate applies when I pay in euros",
        "how much is the dollar worth in pounds today",
    ],
    "top_up_failed": [
        "my top-up failed",
        "I couldn't add money to my account",
        "topping up didn't work",
        "why was my top up declined",
        "adding funds with my card keeps failing",
    ],
    "close_account": [
        "I want to close my account",
        "how do I delete my account",
        "please cancel my membership",
        "shut down my account for good",
        "I no longer want an account with you",
    ],
}


def _folders(tmp_path: Path) -> dict[str, Path]:
    intents, kb = tmp_path / "intents", tmp_path / "kb"
    intents.mkdir()
    kb.mkdir()
    for name, examples in INTENTS.items():
        body = {"name": name, "examples": examples, "reply": f"Routed to {name}."}
        (intents / f"{name}.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")
    return {"intents_dir": intents, "kb_dir": kb}


async def _first_turn(client: httpx.AsyncClient, text: str) -> dict[str, Any]:
    response = await ask(client, await open_conversation(client), text)
    assert response.status_code == 201, response.text
    return dict(response.json())


CONFIDENT = {
    "it's been two weeks and my card is still not here": "card_arrival",
    "what rate will I get converting pounds to euros": "exchange_rate",
    "I tried to top up but it didn't go through": "top_up_failed",
    "please delete my account": "close_account",
}
OFF_TOPIC = [
    "what is the boiling point of tungsten on mars",
    "how do I bake bread",
    "what's the weather like tomorrow",
]


async def test_a_confident_message_is_routed_to_the_classifiers_top_intent(
    start_app: Callable[..., Any], tmp_path: Path
) -> None:
    async with start_app(**_folders(tmp_path)) as client:
        for text, intent in CONFIDENT.items():
            turn = await _first_turn(client, text)
            reply = turn["reply"]
            assert turn["signals"]["intent"]["name"] == intent, text
            assert (reply["kind"], reply["intent"]) == ("intent", intent), text
            assert reply["text"] == f"Routed to {intent}."


async def test_an_out_of_scope_message_is_not_routed(
    start_app: Callable[..., Any], tmp_path: Path
) -> None:
    async with start_app(**_folders(tmp_path)) as client:
        for text in OFF_TOPIC:
            reply = (await _first_turn(client, text))["reply"]
            assert reply["intent"] is None, text
            assert reply["kind"] == "clarify", text


async def test_the_scope_threshold_is_honoured(
    start_app: Callable[..., Any], tmp_path: Path
) -> None:
    """No message is ever fully certain to be one of the intents (the match with an example is
    a calibrated probability below 1): at a scope threshold of 1 nothing is routed."""
    policy = PolicySettings(intent_scope_threshold=1.0)
    async with start_app(policy=policy, **_folders(tmp_path)) as client:
        turn = await _first_turn(client, "please delete my account")
    assert turn["signals"]["intent"]["name"] == "close_account"
    assert turn["reply"]["intent"] is None
    assert turn["reply"]["kind"] == "clarify"
