"""Measures staff sign-in against the real service: the login limits and how fast a revoked
token's live stream closes.

Starts `python -m app serve` on loopback with a fresh data folder and a first admin (and, with
`--redis-url`, a second process on the same database sharing that Redis), then:

1. **One address guessing.** Wrong passwords for the admin's email from 127.0.0.2 until a 429:
   the attempts answered 401 before it.
2. **The owner elsewhere.** The admin signs in with the right password from 127.0.0.3 (status).
3. **Many addresses guessing one email.** Wrong passwords from 127.0.1.x, a fresh address each
   time the previous one is refused, until an address is refused on its first try (the global
   per-email limit): the failures accepted in all, and the addresses used.
4. **Logout -> stream closed.** An agent's stream is open (on the second process with
   `--redis-url`); the time from the logout request's answer to the stream's close frame,
   `--runs` times. Reported next to the reference: the stream's heartbeat period, which was the
   only check before revocations were announced.

Run from the repo root: `python scripts/measure_staff_signin.py [--runs 20]
[--redis-url redis://127.0.0.1:6379/7] [--write]`; `--write` updates the `staff` section of
docs/SECURITY.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from app.agents.presence import HEARTBEAT_SECONDS  # noqa: E402
from app.config import AuthSettings  # noqa: E402
from scripts.reportkit import percentile, publish, ran_on  # noqa: E402
from scripts.servicekit import (  # noqa: E402
    agent_account,
    free_port,
    login,
    start_server,
    stop_server,
)

SECURITY = REPO_ROOT / "docs" / "SECURITY.md"
# A new address each run: with --redis-url the login counts outlive the run (for a day).
ADMIN_EMAIL = f"admin-{uuid.uuid4().hex[:8]}@example.com"
ADMIN_PASSWORD = "measure admin password"
AGENT_PASSWORD = "measure agent password"
AGENT_EMAIL = f"agent-{uuid.uuid4().hex[:8]}@example.com"


def _from(url: str, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url, transport=httpx.AsyncHTTPTransport(local_address=address), timeout=30
    )


async def _wrong(client: httpx.AsyncClient) -> int:
    body = {"email": ADMIN_EMAIL, "password": "not the password"}
    return (await client.post("/api/v1/auth/login", json=body)).status_code


async def guesses_from_one_address(url: str) -> int:
    """Wrong passwords answered 401 from one address before its first 429."""
    async with _from(url, "127.0.0.2") as client:
        count = 0
        while (status := await _wrong(client)) == 401:
            count += 1
        assert status == 429, status
        return count


async def owner_status(url: str) -> int:
    """The status of the owner's right sign-in from another address."""
    async with _from(url, "127.0.0.3") as client:
        body = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        return (await client.post("/api/v1/auth/login", json=body)).status_code


async def guesses_from_many_addresses(url: str, already: int) -> tuple[int, int]:
    """Failures accepted for one email over fresh addresses until one is refused at once;
    counts the `already` failures of step 1 too. Returns (failures, addresses used)."""
    failures = already
    for n in range(1, 255 * 250):
        address = f"127.{1 + n // 250}.{n % 250}.1"
        async with _from(url, address) as client:
            first = True
            while (status := await _wrong(client)) == 401:
                failures += 1
                first = False
            assert status == 429, status
            if first:
                return failures, n
    raise AssertionError("never refused")


async def logout_to_close(login_url: str, stream_url: str, runs: int) -> list[float]:
    """Seconds from each logout's answer to the close frame of the stream using its token."""
    seconds = []
    async with httpx.AsyncClient(base_url=login_url, timeout=30) as client:
        for _ in range(runs):
            headers = await login(client, AGENT_EMAIL, AGENT_PASSWORD)
            ws_url = "ws" + stream_url.removeprefix("http") + "/api/v1/agent/stream"
            async with connect(ws_url, additional_headers=headers) as ws:
                await ws.recv()  # hello
                response = await client.post("/api/v1/auth/logout", headers=headers)
                assert response.status_code == 204
                answered = time.perf_counter()
                try:
                    async with asyncio.timeout(HEARTBEAT_SECONDS * 2):
                        while True:
                            await ws.recv()
                except ConnectionClosed as closed:
                    assert closed.rcvd is not None and closed.rcvd.code == 4401
                seconds.append(time.perf_counter() - answered)
    return seconds


async def measure(urls: list[str], runs: int) -> dict[str, Any]:
    """Every figure, against the started services (the first is signed in to)."""
    url = urls[0]
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        created = await client.post(
            "/api/v1/admin/users",
            json=agent_account(AGENT_EMAIL, AGENT_PASSWORD, "Agent"),
            headers=admin,
        )
        created.raise_for_status()
    one = await guesses_from_one_address(url)
    owner = await owner_status(url)
    many, addresses = await guesses_from_many_addresses(url, one)
    closes = await logout_to_close(url, urls[-1], runs)
    return {
        "one_address": one,
        "owner_status": owner,
        "many_failures": many,
        "many_addresses": addresses,
        "close_seconds": closes,
    }


def table(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The `staff` section of docs/SECURITY.md."""
    auth = AuthSettings()
    closes = result["close_seconds"]
    where = (
        "two service processes on one SQLite database sharing Redis (logout on one, the stream "
        "on the other)"
        if args.redis_url
        else "one service process"
    )
    p50, worst = percentile(closes, 50), max(closes)
    return "\n".join(
        [
            f"{ran_on()}, {where}, on loopback.",
            "",
            "| limit (setting `SWITCHBOARD_AUTH__…`) | default |",
            "|---|---|",
            f"| failed logins per (email, client address) (`LOGIN_ATTEMPTS`) | "
            f"{auth.login_attempts} |",
            f"| failed logins per email, every address together (`LOGIN_ATTEMPTS_PER_EMAIL`) | "
            f"{auth.login_attempts_per_email} |",
            f"| failed logins per client address, any email (`LOGIN_ATTEMPTS_PER_IP`) | "
            f"{auth.login_attempts_per_ip} |",
            "| a wrong or replayed one-time code | counts as a failed login |",
            "",
            "| measured | result |",
            "|---|---|",
            f"| wrong passwords from one address before its 429 | {result['one_address']} |",
            f"| the owner signing in from another address meanwhile | HTTP "
            f"{result['owner_status']} |",
            f"| failures accepted for one email over fresh addresses before every address is "
            f"refused | {result['many_failures']} (step 1's address and "
            f"{result['many_addresses'] - 1} more) |",
            f"| seconds from the logout's answer to the stream's close (4401), {len(closes)} "
            f"runs | p50 {p50:.3f}, max {worst:.3f} |",
            f"| reference: the stream's heartbeat, the only check before | every "
            f"{HEARTBEAT_SECONDS:g} s (p50 close is {HEARTBEAT_SECONDS / max(p50, 1e-6):,.0f}x "
            "sooner) |",
        ]
    )


def main() -> None:
    """Parse the options, start the service(s), measure, print (and with --write, save)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="logouts timed")
    parser.add_argument("--redis-url", help="run two processes sharing this Redis")
    parser.add_argument("--write", action="store_true", help="update docs/SECURITY.md")
    args = parser.parse_args()
    env = {
        "SWITCHBOARD_ADMIN_EMAIL": ADMIN_EMAIL,
        "SWITCHBOARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SWITCHBOARD_RATE_LIMITS__ENABLED": "false",
    }
    if args.redis_url:
        env["SWITCHBOARD_REDIS_URL"] = args.redis_url
    with tempfile.TemporaryDirectory(prefix="staff-signin-") as tmp:
        data_dir = Path(tmp) / "data"
        processes = []
        try:
            urls = []
            for _ in range(2 if args.redis_url else 1):
                port = free_port()
                process, _, _ = start_server(data_dir, port, timeout=600, env_overrides=env)
                processes.append(process)
                urls.append(f"http://127.0.0.1:{port}")
            result = asyncio.run(measure(urls, args.runs))
        finally:
            for process in processes:
                stop_server(process)
    publish(table(result, args), "staff", write=args.write, path=SECURITY)


if __name__ == "__main__":
    main()
