"""Floods the real service from one client address and reports, for each limit on abuse, how
many requests it accepted before the first 429, how fast they came, and the `Retry-After` of
the refusal.

Starts the demo orders service and `python -m app serve` on loopback with a fresh data folder,
the default limits ON (`SWITCHBOARD_RATE_LIMITS__ENABLED=true`; every other script turns them
off) and loopback as a trusted proxy, so that each flood comes from its own address in
`X-Forwarded-For` (a client behind the proxy) and one flood does not spend another's
allowance. Then, one after another, as fast as one client can send:

1. new conversations (POST /api/v1/conversations) until 429;
2. messages into one conversation until 429 (the per-conversation limit);
3. messages from one address into conversations of 20 messages each, until 429;
4. "I want to talk to a human" in new conversations until 429 (handoffs per address);
5. password resets for one verified customer, each in a new conversation from a new address:
   how many the orders service sent, and what the bot answered after the limit.

Run from the repo root: `python scripts/bench_abuse.py [--max 2000] [--write]`; `--write`
replaces the `abuse` section of docs/SECURITY.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts.reportkit import ran_on, write_doc_section  # noqa: E402
from scripts.servicekit import (  # noqa: E402
    bearer,
    free_port,
    fresh_service,
    start_orders_api,
    stop_server,
)

SECURITY = REPO_ROOT / "docs" / "SECURITY.md"
ORDERS_TOKEN = "bench-orders-token"
IDENTITY_SECRET = "bench-identity-secret"
CUSTOMER = {"id": "C-2001", "email": "alex@example.com", "name": "Alex Rivera"}  # demo data


def signed_customer() -> dict[str, str]:
    """The demo customer as the shop's server signs them (hex HMAC-SHA256 of the id)."""
    digest = hmac.new(IDENTITY_SECRET.encode(), CUSTOMER["id"].encode(), hashlib.sha256)
    return {**CUSTOMER, "signature": digest.hexdigest()}


@dataclass
class Flood:
    """What one flood got: requests accepted before the first 429, their rate, the refusal."""

    name: str
    configured: str
    accepted: int
    seconds: float
    retry_after: str
    message: str

    def row(self) -> str:
        rate = self.accepted / self.seconds if self.seconds else 0.0
        return (
            f"| {self.name} | {self.configured} | {self.accepted} | {rate:,.0f}/s | "
            f"{self.retry_after} s | {self.message} |"
        )


class Client:
    """One client address behind the (trusted) proxy."""

    def __init__(self, http: httpx.AsyncClient, address: str) -> None:
        self.http = http
        self.headers = {"X-Forwarded-For": address}

    async def open(self, customer: dict[str, str] | None = None) -> httpx.Response:
        body = {"customer": customer} if customer else None
        return await self.http.post("/api/v1/conversations", headers=self.headers, json=body)

    async def opened(self, customer: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
        response = await self.open(customer)
        response.raise_for_status()
        body = response.json()
        return body["id"], {**self.headers, **bearer(body["token"])}

    async def say(self, opened: tuple[str, dict[str, str]], text: str) -> httpx.Response:
        conversation_id, headers = opened
        return await self.http.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": text},
            headers=headers,
        )


def refused(
    name: str, configured: str, accepted: int, began: float, response: httpx.Response
) -> Flood:
    if response.status_code != 429:
        raise RuntimeError(f"{name}: expected 429, got {response.status_code}: {response.text}")
    return Flood(
        name,
        configured,
        accepted,
        time.perf_counter() - began,
        response.headers.get("Retry-After", "?"),
        response.json()["error"]["message"].split(" (")[0],
    )


async def until_refused(
    name: str, configured: str, limit: int, send: Callable[[int], Awaitable[httpx.Response]]
) -> Flood:
    """Send `send(n)` for n = 0, 1, ... until it answers anything but 201 (a 429)."""
    began = time.perf_counter()
    for accepted in range(limit + 1):
        response = await send(accepted)
        if response.status_code != 201:
            return refused(name, configured, accepted, began, response)
    raise RuntimeError(f"{name}: no 429 after {limit} requests")


async def flood_conversations(http: httpx.AsyncClient, limit: int) -> Flood:
    client = Client(http, "203.0.113.1")
    return await until_refused(
        "new conversations per address",
        "60/minute;600/hour",
        limit,
        lambda _n: client.open(),
    )


async def flood_one_conversation(http: httpx.AsyncClient, limit: int) -> Flood:
    client = Client(http, "203.0.113.2")
    opened = await client.opened()
    return await until_refused(
        "messages per conversation",
        "30/minute;300/hour",
        limit,
        lambda n: client.say(opened, f"question {n} about shipping"),
    )


async def flood_messages(http: httpx.AsyncClient, limit: int) -> Flood:
    client = Client(http, "203.0.113.3")
    current: list[tuple[str, dict[str, str]]] = []

    async def send(n: int) -> httpx.Response:
        if n % 20 == 0:  # 20 messages a conversation, below the per-conversation limit
            current[:] = [await client.opened()]
        return await client.say(current[0], f"question {n} about returns")

    return await until_refused("messages per address", "300/minute;3000/hour", limit, send)


async def flood_handoffs(http: httpx.AsyncClient, limit: int) -> Flood:
    client = Client(http, "203.0.113.4")

    async def send(_n: int) -> httpx.Response:
        return await client.say(await client.opened(), "I want to talk to a human")

    return await until_refused("handoffs per address", "30/minute;200/hour", limit, send)


async def flood_resets(http: httpx.AsyncClient, orders_url: str, attempts: int) -> dict[str, Any]:
    answers = []
    for n in range(attempts):
        client = Client(http, f"198.51.100.{n + 1}")  # a new address each time
        opened = await client.opened(signed_customer())
        answered = await client.say(opened, "I forgot my password")
        answered.raise_for_status()
        answers.append(answered.json()["reply"]["text"])
    async with httpx.AsyncClient(base_url=orders_url) as orders:
        sent = await orders.get("/state/password-resets", headers=bearer(ORDERS_TOKEN))
    return {
        "attempts": attempts,
        "received": sum(1 for reset in sent.json() if reset["customer_id"] == CUSTOMER["id"]),
        "limited_reply": answers[-1],
        "limited": sum("won't send another" in a for a in answers),
    }


async def run(url: str, orders_url: str, limit: int) -> tuple[list[Flood], dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        floods = [
            await flood_conversations(http, limit),
            await flood_one_conversation(http, limit),
            await flood_messages(http, limit),
            await flood_handoffs(http, limit),
        ]
        resets = await flood_resets(http, orders_url, 6)
    return floods, resets


def report(floods: list[Flood], resets: dict[str, Any], command: str) -> str:
    lines = [
        "What is limited (`SWITCHBOARD_RATE_LIMITS__*`, `limits`' moving window, counted in "
        "Redis when `SWITCHBOARD_REDIS_URL` is set so every process shares them): new "
        "conversations and customer messages per client address, messages per conversation "
        "(counted only after its token is checked), handoffs per address (a message that "
        "would hand off beyond it is refused whole, nothing stored), and any intent action "
        "that declares `limit:` (the demo's password reset: 3 an hour per customer). A refusal "
        "is 429 with `Retry-After`; the Redis store down is 503. The client address is the "
        "TCP peer, or `X-Forwarded-For` only when the peer is in `SWITCHBOARD_TRUSTED_PROXIES` "
        "(uvicorn's own proxy-header handling is off). No customer WebSocket frame posts a "
        "message. Conversations that never got a message are deleted after "
        "`SWITCHBOARD_RETENTION__EMPTY_CONVERSATION_HOURS` (24); a customer token stops "
        "working after `SWITCHBOARD_RETENTION__CUSTOMER_TOKEN_DAYS` (30) without activity. "
        "The queue's `total` is exact at any size.",
        "",
        "Flood rates accepted per address before 429: one client sending as fast as it can, "
        "each flood from its own address (`X-Forwarded-For` through loopback as a trusted "
        "proxy), default limits, the service on SQLite. The rate is what that one client "
        "reached before the refusal, not a limit.",
        "",
        "| flood | limit (default) | accepted before 429 | at | Retry-After | message |",
        "|---|---|---|---|---|---|",
        *(f.row() for f in floods),
        "",
        f"Password resets for one verified customer, {resets['attempts']} attempts from "
        f"{resets['attempts']} addresses: the orders service received {resets['received']} "
        f"(`password_reset.yaml`: `limit: {{rate: 3/hour}}`); {resets['limited']} got the "
        f"polite reply instead: “{resets['limited_reply']}”",
        "",
        ran_on(command),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=2000, help="Give up on a flood after this.")
    parser.add_argument("--write", action="store_true", help="Update docs/SECURITY.md.")
    args = parser.parse_args()
    orders_port = free_port()
    orders = start_orders_api(orders_port, token=ORDERS_TOKEN, identity_secret=IDENTITY_SECRET)
    orders_url = f"http://127.0.0.1:{orders_port}"
    integrations = {
        "orders": {"base_url": orders_url, "headers": {"Authorization": f"Bearer {ORDERS_TOKEN}"}}
    }
    env = {
        "SWITCHBOARD_RATE_LIMITS__ENABLED": "true",
        "SWITCHBOARD_TRUSTED_PROXIES": '["127.0.0.1"]',
        "SWITCHBOARD_INTEGRATIONS": json.dumps(integrations),
        "SWITCHBOARD_IDENTITY__SECRET": IDENTITY_SECRET,
    }
    try:
        with fresh_service(env, prefix="bench-abuse-", prepare=True) as service:
            floods, resets = asyncio.run(run(service.url, orders_url, args.max))
    finally:
        stop_server(orders)
    text = report(floods, resets, "python scripts/bench_abuse.py" + (" --write" * args.write))
    print(text)
    if args.write:
        write_doc_section("abuse", text, path=SECURITY)


if __name__ == "__main__":
    main()
