"""Bad requests get a clear 4xx that says what to fix, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import ask, open_conversation


async def _stored(client: httpx.AsyncClient, conversation_id: str, headers: dict[str, str]) -> list:
    response = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=headers
    )
    assert response.status_code == 200
    return response.json()["messages"]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_token_ladder(client: httpx.AsyncClient, method: str) -> None:
    conversation_id, headers = await open_conversation(client)
    other_id, other_headers = await open_conversation(client)
    url = f"/api/v1/conversations/{conversation_id}/messages"
    payload = {"json": {"text": "hello"}} if method == "POST" else {}

    missing = await client.request(method, url, **payload)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization" in missing.json()["error"]["message"]

    malformed = await client.request(method, url, headers={"Authorization": "Token x"}, **payload)
    assert malformed.status_code == 401

    wrong = await client.request(method, url, headers=other_headers, **payload)
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "forbidden"

    forged = await client.request(method, url, headers={"Authorization": "Bearer nope"}, **payload)
    assert forged.status_code == 403

    unknown = await client.request(
        method, "/api/v1/conversations/does-not-exist/messages", headers=headers, **payload
    )
    assert unknown.status_code == 404
    assert "does not exist" in unknown.json()["error"]["message"]

    assert await _stored(client, conversation_id, headers) == []
    assert await _stored(client, other_id, other_headers) == []


@pytest.mark.parametrize(
    ("body", "field_hint"),
    [
        ({"text": ""}, "text"),
        ({"text": "   \n\t "}, "text"),
        ({}, "text"),
        ({"text": 42}, "text"),
        ({"text": "hi", "client_id": ""}, "client_id"),
        ({"text": "hi", "unexpected": 1}, "unexpected"),
    ],
    ids=["empty", "blank", "missing", "not-a-string", "empty-client-id", "unknown-field"],
)
async def test_invalid_message_is_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field_hint: str
) -> None:
    conversation_id, headers = await open_conversation(client)
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json=body, headers=headers
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field_hint in error["message"]
    assert await _stored(client, conversation_id, headers) == []


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    conversation_id, headers = await open_conversation(client)
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        content=b'{"text": "hi"',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["error"]["message"]
    assert await _stored(client, conversation_id, headers) == []


async def test_text_over_the_limit_is_413(start_app: Callable[..., Any]) -> None:
    async with start_app(max_message_chars=50) as client:
        opened = await open_conversation(client)
        response = await ask(client, opened, "x" * 51)
        assert response.status_code == 413
        assert "limit is 50" in response.json()["error"]["message"]
        assert (await ask(client, opened, "y" * 50)).status_code == 201
        assert len(await _stored(client, *opened)) == 2


async def test_default_limit_is_4000_characters(client: httpx.AsyncClient) -> None:
    opened = await open_conversation(client)
    assert (await ask(client, opened, "a" * 4001)).status_code == 413
    assert await _stored(client, *opened) == []


async def test_huge_body_is_refused_before_parsing(client: httpx.AsyncClient) -> None:
    opened = await open_conversation(client)
    response = await ask(client, opened, "z" * 300_000, headers={"Origin": "https://shop.example"})
    assert response.status_code == 413
    assert response.headers["access-control-allow-origin"] == "*"
    assert "too large" in response.text.lower()  # plain text from the body limit
    assert await _stored(client, *opened) == []


async def test_bad_paging_parameters_are_422(client: httpx.AsyncClient) -> None:
    conversation_id, headers = await open_conversation(client)
    url = f"/api/v1/conversations/{conversation_id}/messages"
    assert (await client.get(url, params={"after": -1}, headers=headers)).status_code == 422
    assert (await client.get(url, params={"limit": 0}, headers=headers)).status_code == 422
    assert (await client.get(url, params={"after": "x"}, headers=headers)).status_code == 422


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body", [{"text": "hi\x00there"}, {"text": "hi", "client_id": "a\x00b"}], ids=["text", "id"]
)
async def test_nul_characters_are_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    conversation_id, headers = await open_conversation(client)
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json=body, headers=headers
    )
    assert response.status_code == 422
    assert "NUL" in response.json()["error"]["message"]
    assert await _stored(client, conversation_id, headers) == []


async def test_after_beyond_any_seq_is_422(client: httpx.AsyncClient) -> None:
    conversation_id, headers = await open_conversation(client)
    url = f"/api/v1/conversations/{conversation_id}/messages"
    response = await client.get(url, params={"after": 2**40}, headers=headers)
    assert response.status_code == 422
