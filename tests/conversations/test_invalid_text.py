"""Text that is not valid Unicode text (a lone surrogate) or holds control characters is
refused with a 422 that names the problem, on every route whose text is encoded or stored;
nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, login, open_conversation

SURROGATE = '"hi \\ud800 x"'  # JSON for a string with a lone surrogate


JSON = {"Content-Type": "application/json"}


def _raw(template: str, value: str = SURROGATE) -> str:
    """A request body as raw JSON, `value` (JSON) put where the template says VALUE."""
    return template.replace("VALUE", value)


async def _messages(client: httpx.AsyncClient, conversation_id: str, headers: Any) -> list[Any]:
    response = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=headers
    )
    assert response.status_code == 200
    return response.json()["messages"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (SURROGATE, "lone surrogate U+D800 at character 3"),
        ('"a\\udc00"', "lone surrogate U+DC00"),
        ('"ring \\u0007 bell"', "control character U+0007 at character 5"),
        ('"esc \\u001b[2J"', "control character U+001B"),
        ('"c1 \\u0085"', "control character U+0085"),
    ],
)
async def test_a_customer_message_with_invalid_text_is_422_and_not_stored(
    client: httpx.AsyncClient, value: str, named: str
) -> None:
    conversation_id, headers = await open_conversation(client)
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        content=_raw('{"text": VALUE}', value),
        headers={**headers, **JSON},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["fields"][0]["field"] == "text"
    assert named in error["message"]
    assert await _messages(client, conversation_id, headers) == []


async def test_newlines_tabs_and_emoji_are_fine(client: httpx.AsyncClient) -> None:
    conversation_id, headers = await open_conversation(client)
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": "hello\r\n\tthere ☕ 👋🏽"},
        headers=headers,
    )
    assert response.status_code == 201, response.text


async def test_a_client_id_with_a_surrogate_is_422(client: httpx.AsyncClient) -> None:
    conversation_id, headers = await open_conversation(client)
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        content=_raw('{"text": "hello", "client_id": VALUE}'),
        headers={**headers, **JSON},
    )
    assert response.status_code == 422
    assert "client_id" in response.json()["error"]["message"]
    assert await _messages(client, conversation_id, headers) == []


async def test_staff_and_admin_text_with_a_surrogate_is_422(start_app: Callable[..., Any]) -> None:
    async with start_app(**ADMIN) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        # A conversation the admin owns: the customer asks for a person, the admin claims it.
        opened = await open_conversation(client)
        conversation_id, customer = opened
        handed = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": "I want to talk to a human please"},
            headers=customer,
        )
        assert handed.json()["reply"]["kind"] == "handoff"
        claimed = await client.post(
            f"/api/v1/agent/conversations/{conversation_id}/claim", headers=admin
        )
        assert claimed.status_code == 200, claimed.text
        before = await _messages(client, conversation_id, customer)

        attempts = {
            f"/api/v1/agent/conversations/{conversation_id}/messages": '{"text": VALUE}',
            f"/api/v1/agent/conversations/{conversation_id}/notes": '{"text": VALUE}',
            "/api/v1/admin/try": '{"text": VALUE}',
            "/api/v1/admin/kb/articles": '{"title": "A title", "body": VALUE}',
            "/api/v1/admin/users": (
                '{"email": "x@example.com", "password": "a long password 1", '
                '"name": VALUE, "role": "agent"}'
            ),
        }
        for url, template in attempts.items():
            response = await client.post(url, content=_raw(template), headers={**admin, **JSON})
            assert response.status_code == 422, (url, response.text)
            assert "lone surrogate" in response.json()["error"]["message"], url
        questions = await client.post(
            "/api/v1/admin/kb/articles",
            content=_raw('{"title": "Title", "body": "Body", "questions": ["ok", VALUE]}'),
            headers={**admin, **JSON},
        )
        assert questions.status_code == 422
        assert "questions" in questions.json()["error"]["message"]

        assert await _messages(client, conversation_id, customer) == before
        notes = await client.get(f"/api/v1/agent/conversations/{conversation_id}", headers=admin)
        assert notes.status_code == 200
        assert "hi \ud800" not in json.dumps(notes.json())
        articles = await client.get(
            "/api/v1/admin/kb/articles", params={"limit": 200}, headers=admin
        )
        assert all(a["title"] != "A title" for a in articles.json()["items"])
