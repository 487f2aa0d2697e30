"""Benchmarks the agents' side over the real service: live-message latency and the claim race.

Starts `python -m app serve` on loopback with a fresh data folder (SQLite by default, or the
PostgreSQL database given with `--database-url`, which is emptied first) and a first admin, then:

1. **Agent send -> customer stream.** A customer asks for a person, an agent claims the
   conversation, the customer's WebSocket stream is open; the agent posts `--messages` replies
   one after another (POST /api/v1/agent/conversations/{id}/messages) and each is timed from
   the start of its POST to the moment the customer's stream delivers it. Reports p50/p99.
2. **Claim race.** `--agents` agents each try to claim every one of `--conversations`
   handed-off conversations, all at once in shuffled orders. Counts the 200s per conversation
   (must be exactly one) and checks each conversation's stored owner and its single
   `conversation.assigned` event against the winner: zero double assignments.

Run from the repo root: `python scripts/bench_agents.py [--messages 1000] [--agents 50]
[--conversations 100] [--database-url postgresql+asyncpg://...] [--write]`; `--write` updates
the generated section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts.reportkit import percentile_ms, publish, ran_on  # noqa: E402
from scripts.servicekit import agent_account, bearer, fresh_service, login  # noqa: E402

ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench admin password"
AGENT_PASSWORD = "bench agent password"


async def make_agents(
    client: httpx.AsyncClient, admin: dict[str, str], count: int
) -> list[tuple[int, dict[str, str]]]:
    """`count` agent accounts created by the admin, each signed in: (user id, headers)."""
    agents = []
    for i in range(count):
        email = f"agent{i}@example.com"
        created = await client.post(
            "/api/v1/admin/users",
            json=agent_account(email, AGENT_PASSWORD, f"Agent {i}"),
            headers=admin,
        )
        created.raise_for_status()
        agents.append((created.json()["id"], await login(client, email, AGENT_PASSWORD)))
    return agents


async def handed_off(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """A conversation whose customer asked the bot for a person."""
    created = (await client.post("/api/v1/conversations")).json()
    auth = bearer(created["token"])
    turn = await client.post(
        f"/api/v1/conversations/{created['id']}/messages",
        json={"text": "I want to talk to a human please"},
        headers=auth,
    )
    turn.raise_for_status()
    assert turn.json()["reply"]["kind"] == "handoff", turn.text
    return created["id"], auth


async def message_latency(
    client: httpx.AsyncClient, base_ws: str, agent: dict[str, str], count: int
) -> list[float]:
    """Seconds from each agent POST's start to the customer's stream delivering it."""
    conversation_id, auth = await handed_off(client)
    claimed = await client.post(
        f"/api/v1/agent/conversations/{conversation_id}/claim", headers=agent
    )
    claimed.raise_for_status()
    url = f"{base_ws}/api/v1/conversations/{conversation_id}/stream"
    received: dict[str, float] = {}
    sent: dict[str, float] = {}
    async with connect(url, additional_headers=auth, max_queue=None) as ws:
        while json.loads(await ws.recv())["type"] != "ready":
            pass

        async def reader() -> None:
            while len(received) < count:
                event = json.loads(await ws.recv())
                if event["type"] == "message" and event["message"]["author"] == "agent":
                    received[event["message"]["text"]] = time.perf_counter()

        reading = asyncio.create_task(reader())
        for i in range(count):
            text = f"agent reply {i}"
            sent[text] = time.perf_counter()
            response = await client.post(
                f"/api/v1/agent/conversations/{conversation_id}/messages",
                json={"text": text, "client_id": f"m{i}"},
                headers=agent,
            )
            response.raise_for_status()
        await asyncio.wait_for(reading, 60)
    return [received[t] - sent[t] for t in sent]


async def claim_race(
    client: httpx.AsyncClient,
    agents: list[tuple[int, dict[str, str]]],
    conversations: int,
    admin: dict[str, str],
) -> dict[str, Any]:
    """Every agent claims every conversation at once; verify exactly one owner each."""
    ids = [(await handed_off(client))[0] for _ in range(conversations)]
    attempts = []
    rng = random.Random(7)
    for agent_id, headers in agents:
        order = ids[:]
        rng.shuffle(order)
        attempts.extend((agent_id, headers, cid) for cid in order)
    rng.shuffle(attempts)
    gate = asyncio.Semaphore(200)
    errors: Counter[str] = Counter()

    async def attempt(agent_id: int, headers: dict[str, str], cid: str) -> tuple[str, int, int]:
        async with gate:
            try:
                response = await client.post(
                    f"/api/v1/agent/conversations/{cid}/claim", headers=headers
                )
            except httpx.TransportError as exc:
                errors[type(exc).__name__] += 1
                return cid, agent_id, -1
        return cid, agent_id, response.status_code

    started = time.perf_counter()
    results = await asyncio.gather(*(attempt(*a) for a in attempts))
    seconds = time.perf_counter() - started
    codes = Counter(code for _, _, code in results)
    winners: dict[str, list[int]] = {}
    for cid, agent_id, code in results:
        if code == 200:
            winners.setdefault(cid, []).append(agent_id)
    double = sum(1 for w in winners.values() if len(w) > 1)
    unclaimed = sum(1 for cid in ids if cid not in winners)
    mismatched = 0
    for cid in ids:
        view = (await client.get(f"/api/v1/agent/conversations/{cid}", headers=admin)).json()
        assigned_events = [e for e in view["events"] if e["type"] == "conversation.assigned"]
        owner = (view.get("agent") or {}).get("id")
        if len(assigned_events) != 1 or [owner] != winners.get(cid):
            mismatched += 1
    return {
        "attempts": len(results),
        "ok": codes.get(200, 0),
        "conflict": codes.get(409, 0),
        "other": sum(n for c, n in codes.items() if c not in (200, 409)),
        "double": double,
        "unclaimed": unclaimed,
        "mismatched": mismatched,
        "seconds": seconds,
        "errors": dict(errors),
        "codes": dict(codes),
    }


async def reset_postgres(url: str) -> None:
    """Empty the PostgreSQL database at `url` (drop and recreate the public schema)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the service, measure both parts, stop it; the figures."""
    if args.database_url:
        await reset_postgres(args.database_url)
    env = {
        "SWITCHBOARD_ADMIN_EMAIL": ADMIN_EMAIL,
        "SWITCHBOARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SWITCHBOARD_LOG_LEVEL": args.log_level,
    }
    if args.database_url:
        env["SWITCHBOARD_DATABASE_URL"] = args.database_url
    with fresh_service(env) as service:
        base = service.url
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
            admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
            agents = await make_agents(client, admin, args.agents)
            latency = await message_latency(
                client, f"ws://127.0.0.1:{service.port}", agents[0][1], args.messages
            )
        # The race opens a connection per claim, like 50 separate browsers: under 200
        # concurrent requests httpx's shared keep-alive pool makes the client itself the
        # bottleneck (5x slower) and sees a few connection resets.
        fresh = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=fresh) as client:
            race = await claim_race(client, agents, args.conversations, admin)
    return {
        "database": "PostgreSQL" if args.database_url else "SQLite",
        "messages": len(latency),
        "p50": percentile_ms(latency, 50),
        "p99": percentile_ms(latency, 99),
        "max": max(latency) * 1000.0,
        "race": race,
    }


def table(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The Markdown section of docs/BENCHMARKS.md."""
    race = result["race"]
    return "\n".join(
        [
            f"### Agents ({result['database']}): live messages and the claim race",
            "",
            f"{ran_on()}, {result['database']}, one service process on loopback.",
            "",
            "| Figure | Value |",
            "|---|---|",
            f"| Agent send -> customer stream, p50 ({result['messages']} messages) "
            f"| {result['p50']:.1f} ms |",
            f"| Agent send -> customer stream, p99 | {result['p99']:.1f} ms |",
            f"| Agent send -> customer stream, max | {result['max']:.1f} ms |",
            f"| Claim race: agents x conversations | {args.agents} x {args.conversations} "
            f"({race['attempts']} claims in {race['seconds']:.1f} s) |",
            f"| Claims won (200) / refused (409) / other | {race['ok']} / {race['conflict']} / "
            f"{race['other']} |",
            f"| Double assignments | **{race['double']}** |",
            f"| Transport errors (connection reset) | {sum(race['errors'].values())} |",
            f"| Conversations left unclaimed | {race['unclaimed']} |",
            f"| Stored owner or assignment events not matching the winner | {race['mismatched']} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (emptied first)")
    parser.add_argument("--log-level", default="warning", help="the service's log level")
    parser.add_argument("--section", default=None, help="docs section name (default by database)")
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    section = args.section or ("agents-postgres" if args.database_url else "agents")
    publish(table(result, args), section, write=args.write)
    failed = result["race"]["double"] or result["race"]["mismatched"] or result["race"]["other"]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
