"""The staff stream over a real socket: hello with everyone's presence, presence announced on
connect and disconnect and kept alive by the stream, the user's own channel, authentication
(customer tokens never open it) and closing once the token is revoked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.realtime import sockets
from app.realtime.broker import STAFF_CHANNEL, agent_channel
from tests.conftest import (
    ADMIN,
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ask,
    login,
    make_staff,
    open_conversation,
)
from tests.realtime.live import agent_stream, closed_with, next_event, quiet, token_of


async def presence_of(ws: Any, user_id: int) -> dict[str, Any]:
    """The next presence event about `user_id` (others skipped)."""
    while True:
        event = await next_event(ws)
        if event["type"] == "presence" and event["agent"]["id"] == user_id:
            return event["agent"]


async def test_hello_then_presence_on_connect_and_disconnect(
    start_server: Callable[..., Any],
) -> None:
    async with start_server(**ADMIN) as server, httpx.AsyncClient(base_url=server) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        ada, ada_auth = await make_staff(
            client, admin, email="ada@example.com", name="Ada", role="agent"
        )
        async with agent_stream(server, admin) as admin_ws:
            hello = await next_event(admin_ws)
            assert hello["type"] == "hello"
            assert hello["user"]["email"] == ADMIN_EMAIL
            assert hello["user"]["role"] == "admin"
            listed = {a["id"]: a for a in hello["agents"]}
            assert listed[ada["id"]]["name"] == "Ada"
            assert listed[ada["id"]]["online"] is False  # she chose nothing yet

            response = await client.put(
                "/api/v1/agent/presence", json={"status": "online"}, headers=ada_auth
            )
            assert response.status_code == 200, response.text
            await quiet(admin_ws)
            async with agent_stream(server, ada_auth) as ada_ws:
                assert (await next_event(ada_ws))["type"] == "hello"
                assert await presence_of(admin_ws, ada["id"]) == {
                    "id": ada["id"],
                    "name": "Ada",
                    "presence": "online",
                    "online": True,
                }
            gone = await presence_of(admin_ws, ada["id"])
            assert (gone["presence"], gone["online"]) == ("online", False)
        # Closing her console takes her offline at once (no auto-assignment to it).
        rows = (await client.get("/api/v1/agent/presence", headers=admin)).json()
        assert next(r for r in rows if r["id"] == ada["id"])["online"] is False


async def test_an_open_stream_keeps_its_user_online(start_server: Callable[..., Any]) -> None:
    settings = {**ADMIN, "agents": {"presence_timeout_seconds": 0.6}}
    async with start_server(**settings) as server, httpx.AsyncClient(base_url=server) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        ada, ada_auth = await make_staff(
            client, admin, email="ada@example.com", name="Ada", role="agent"
        )
        bob, bob_auth = await make_staff(
            client, admin, email="bob@example.com", name="Bob", role="agent"
        )
        for auth in (ada_auth, bob_auth):
            await client.put("/api/v1/agent/presence", json={"status": "online"}, headers=auth)
        async with agent_stream(server, ada_auth) as ws:
            await next_event(ws)
            await asyncio.sleep(1.5)  # well past the timeout; only Ada's stream beats
            rows = (await client.get("/api/v1/agent/presence", headers=admin)).json()
            online = {r["id"]: r["online"] for r in rows}
            assert online[ada["id"]] is True
            assert online[bob["id"]] is False


async def test_a_revoked_token_closes_the_stream(start_server: Callable[..., Any]) -> None:
    settings = {**ADMIN, "agents": {"presence_timeout_seconds": 0.6}}  # beats every 0.2 s
    async with start_server(**settings) as server, httpx.AsyncClient(base_url=server) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        _, ada_auth = await make_staff(
            client, admin, email="ada@example.com", name="Ada", role="agent"
        )
        async with agent_stream(server, ada_auth) as ws:
            await next_event(ws)
            response = await client.post("/api/v1/auth/logout", headers=ada_auth)
            assert response.status_code == 204
            code, reason = await closed_with(ws, timeout=5)
            assert code == 4401 and "revoked" in reason


async def test_own_channel_and_staff_channel(start_server: Callable[..., Any]) -> None:
    async with start_server(**ADMIN) as server, httpx.AsyncClient(base_url=server) as client:
        broker = server.app.state.runtime.broker
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        ada, ada_auth = await make_staff(
            client, admin, email="ada@example.com", name="Ada", role="agent"
        )
        async with agent_stream(server, admin) as admin_ws, agent_stream(server, ada_auth) as ws:
            await next_event(admin_ws)
            await next_event(ws)
            await quiet(admin_ws)
            await quiet(ws)
            note = {"type": "assigned", "conversation_id": "c", "seq": 3, "status": "assigned"}
            await broker.publish(agent_channel(ada["id"]), note)
            assert await next_event(ws) == note
            queue = {"type": "queue", "action": "added", "conversation_id": "c", "seq": 2}
            await broker.publish(STAFF_CHANNEL, queue)
            assert await next_event(ws) == queue
            assert await next_event(admin_ws) == queue  # not Ada's own events
            await ws.send(json.dumps({"type": "ping"}))
            assert await next_event(ws) == {"type": "pong"}


async def test_a_handoff_reaches_the_staff_stream(start_server: Callable[..., Any]) -> None:
    async with start_server(**ADMIN) as server, httpx.AsyncClient(base_url=server) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        async with agent_stream(server, admin) as ws:
            await next_event(ws)
            opened = await open_conversation(client)
            reply = (await ask(client, opened, "I want to talk to a human")).json()["reply"]
            assert reply["kind"] == "handoff"
            while (event := await next_event(ws))["type"] != "queue":
                pass
            assert (event["action"], event["conversation_id"]) == ("added", opened[0])


async def test_authentication(
    start_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sockets, "AUTH_SECONDS", 0.3)
    async with start_server(**ADMIN) as server, httpx.AsyncClient(base_url=server) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        async with agent_stream(server, None) as ws:  # first-frame auth, as browsers do
            await ws.send(json.dumps({"type": "auth", "token": token_of(admin)}))
            assert (await next_event(ws))["user"]["email"] == ADMIN_EMAIL
        _, customer = await open_conversation(client)
        for headers in (customer, {"Authorization": "Bearer nonsense"}, None):
            async with agent_stream(server, headers) as ws:
                assert (await closed_with(ws))[0] == 4401
