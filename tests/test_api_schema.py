"""What the fuzzer found, pinned through HTTP: a body that is not UTF-8 is a 400 that says so,
a 405 names the methods the path serves in `Allow` (over every router serving that path), URL
values are read as strictly as the schema says (`?to=0` is not a date, `?limit=1.0` not a whole
number, `?wait=yes` not a boolean), and the schema documents the error responses in the shape
they are sent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import open_conversation

Admin = tuple[httpx.AsyncClient, dict[str, str]]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/conversations", "POST"),
        # GET (the customer's routes) and POST (the bot's) are on two routers.
        ("PUT", "/api/v1/conversations/{id}/messages", "GET, POST"),
        ("DELETE", "/api/v1/conversations/{id}", "GET"),
        ("PATCH", "/api/v1/admin/kb/articles/1", "GET, PUT, DELETE"),
        ("GET", "/api/v1/auth/login", "POST"),
    ],
)
async def test_a_method_the_path_does_not_serve_is_405_with_allow(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    conversation_id, auth = await open_conversation(client)
    response = await client.request(method, path.replace("{id}", conversation_id), headers=auth)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    error = response.json()["error"]
    assert error["code"] == "method_not_allowed"
    assert method in error["message"] and allowed.split(", ")[0] in error["message"]


@pytest.mark.parametrize("day", ["0", "1700000000", "2026-12-03T00:00:00", "03/12/2026"])
async def test_a_date_parameter_takes_only_a_day(admin_client: Admin, day: str) -> None:
    client, admin = admin_client
    for name in ("from", "to"):
        response = await client.get(
            "/api/v1/admin/analytics/summary", params={name: day}, headers=admin
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["fields"][0]["field"] == f"query.{name}"
        assert "YYYY-MM-DD" in error["message"]
    good = await client.get(
        "/api/v1/admin/analytics/summary", params={"to": "2026-12-03"}, headers=admin
    )
    assert good.status_code == 200, good.text


@pytest.mark.parametrize("limit", ["1.0", "+5", "1_0", " 5"])
async def test_a_number_parameter_takes_only_digits(client: httpx.AsyncClient, limit: str) -> None:
    conversation_id, auth = await open_conversation(client)
    url = f"/api/v1/conversations/{conversation_id}/messages"
    response = await client.get(url, params={"limit": limit}, headers=auth)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["fields"][0]["field"] == "query.limit"
    assert "whole number" in error["message"]
    assert (await client.get(url, params={"limit": "5"}, headers=auth)).status_code == 200


async def test_a_path_id_takes_only_digits(admin_client: Admin) -> None:
    client, admin = admin_client
    response = await client.get("/api/v1/admin/users/1.0", headers=admin)
    assert response.status_code == 422, response.text
    assert "whole number" in response.json()["error"]["message"]
    assert (await client.get("/api/v1/admin/users/1", headers=admin)).status_code == 200


@pytest.mark.parametrize("wait", ["yes", "1", "on", "True"])
async def test_a_boolean_parameter_takes_only_true_or_false(admin_client: Admin, wait: str) -> None:
    client, admin = admin_client
    article: dict[str, Any] = {
        "title": "Gift wrapping in zorblax paper",
        "body": "We wrap gifts for free.",
    }
    response = await client.post(
        "/api/v1/admin/kb/articles", params={"wait": wait}, json=article, headers=admin
    )
    assert response.status_code == 422, response.text
    assert "true or false" in response.json()["error"]["message"]
    listed = await client.get("/api/v1/admin/kb/articles", params={"limit": 200}, headers=admin)
    assert article["title"] not in {a["title"] for a in listed.json()["items"]}  # nothing stored


async def test_the_schema_documents_errors_in_the_shape_they_are_sent(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    post = schema["paths"]["/api/v1/conversations/{conversation_id}/messages"]["post"]
    for status in ("401", "403", "404", "409", "413", "422", "429", "503"):
        content = post["responses"][status]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
    assert "Retry-After" in post["responses"]["429"]["headers"]
    # The strict URL types keep their bounds where a client (and the fuzzer) reads them.
    get = schema["paths"]["/api/v1/conversations/{conversation_id}/messages"]["get"]
    limit = next(p for p in get["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 500)
    sent = await client.post("/api/v1/conversations/nope/messages", json={"text": "hi"})
    assert sent.status_code == 401
    assert set(sent.json()) == {"error"} and {"code", "message"} <= set(sent.json()["error"])


async def test_a_body_that_is_not_utf8_is_400_saying_so(client: httpx.AsyncClient) -> None:
    opened = await open_conversation(client)
    conversation_id, auth = opened
    url = f"/api/v1/conversations/{conversation_id}/messages"
    response = await client.post(
        url, content=b'{"text": "caf\xe9"}', headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error == {
        "code": "bad_request",
        "message": "the request body could not be read; send JSON encoded as UTF-8",
    }
    page = (await client.get(url, headers=auth)).json()
    assert page["messages"] == []  # nothing stored
