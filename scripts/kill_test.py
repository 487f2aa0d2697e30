"""Kills the service with SIGKILL in the middle of a burst of customers and checks that no
message it acknowledged is lost.

    python scripts/kill_test.py [--customers 20] [--seconds 6] [--write]

Starts `python -m app serve` on loopback with a fresh data folder (SQLite, the shipped knowledge
base and intents, abuse limits off), then `--customers` customers each open a conversation and
post messages one after the other (each with its own `client_id`), knowledge-base questions
and small talk. After `--seconds` the process gets SIGKILL (`kill -9`: no shutdown, no flush).
The service is started again on the same data folder, and every message that had been
acknowledged (201) must be stored with its text, in the order it was sent; a message that
got no answer before the kill may or may not be stored, and posting it again (twice) with its
`client_id` stores it once. `--write` replaces the
`durability` section of docs/SECURITY.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts.reportkit import ran_on, write_doc_section  # noqa: E402
from scripts.servicekit import bearer, free_port, prepare_data_dir, start_server  # noqa: E402

SECURITY = REPO_ROOT / "docs" / "SECURITY.md"
QUESTIONS = (
    "how long does shipping take",
    "do you ship to canada",
    "what is your return policy",
    "hello",
    "how do I change my delivery address",
    "thanks",
    "can I pay with paypal",
    "what does the warranty cover",
)


@dataclass
class Customer:
    """One customer's conversation and what the service acknowledged of it."""

    conversation_id: str
    headers: dict[str, str]
    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # (client_id, text)
    unanswered: list[tuple[str, str]] = field(default_factory=list)


async def chat(http: httpx.AsyncClient, number: int, stop_at: float) -> Customer | None:
    try:
        opened = await http.post("/api/v1/conversations")
    except httpx.HTTPError:
        return None
    if opened.status_code != 201:
        return None
    body = opened.json()
    customer = Customer(body["id"], bearer(body["token"]))
    n = -1
    while True:
        n += 1
        text = f"{QUESTIONS[(number + n) % len(QUESTIONS)]} ({number}.{n})"
        client_id = f"c{number}-m{n}"
        try:
            answer = await http.post(
                f"/api/v1/conversations/{customer.conversation_id}/messages",
                json={"text": text, "client_id": client_id},
                headers=customer.headers,
            )
        except httpx.HTTPError:
            customer.unanswered.append((client_id, text))
            return customer
        if answer.status_code in (200, 201):
            customer.acknowledged.append((client_id, text))
        else:
            customer.unanswered.append((client_id, text))
        if time.perf_counter() > stop_at + 60:  # the kill never came
            return customer


async def burst(url: str, customers: int, seconds: float, pid: int) -> list[Customer]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        stop_at = time.perf_counter() + seconds
        tasks = [asyncio.create_task(chat(http, n, stop_at)) for n in range(customers)]
        await asyncio.sleep(seconds)
        os.kill(pid, signal.SIGKILL)
        done = await asyncio.gather(*tasks)
    return [c for c in done if c is not None]


async def check(url: str, customers: list[Customer]) -> dict[str, int]:
    lost = misordered = stored_twice = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def customer_messages(customer: Customer) -> list[dict[str, Any]]:
            page = await http.get(
                f"/api/v1/conversations/{customer.conversation_id}/messages",
                params={"limit": 500},
                headers=customer.headers,
            )
            page.raise_for_status()
            return [m for m in page.json()["messages"] if m["author"] == "customer"]

        async def post(customer: Customer, client_id: str, text: str) -> httpx.Response:
            return await http.post(
                f"/api/v1/conversations/{customer.conversation_id}/messages",
                json={"text": text, "client_id": client_id},
                headers=customer.headers,
            )

        for customer in customers:
            stored = await customer_messages(customer)
            by_id = {m["client_id"]: m for m in stored}
            sent = dict(customer.acknowledged)
            lost += sum(
                1 for cid, text in customer.acknowledged if by_id.get(cid, {}).get("text") != text
            )
            order = [m["client_id"] for m in stored if m["client_id"] in sent]
            misordered += order != [cid for cid, _ in customer.acknowledged if cid in by_id]
            for client_id, text in customer.unanswered:  # posted again, twice: stored once
                (await post(customer, client_id, text)).raise_for_status()
                (await post(customer, client_id, text)).raise_for_status()
            ids = [m["client_id"] for m in await customer_messages(customer)]
            stored_twice += len(ids) - len(set(ids))
    return {"lost": lost, "misordered": misordered, "stored_twice": stored_twice}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=6.0, help="Burst length before the kill.")
    parser.add_argument("--write", action="store_true", help="Update docs/SECURITY.md.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kill-test-") as tmp:
        data_dir = Path(tmp) / "data"
        prepare_data_dir(data_dir)
        port = free_port()
        process, _, _ = start_server(data_dir, port)
        url = f"http://127.0.0.1:{port}"
        customers = asyncio.run(burst(url, args.customers, args.seconds, process.pid))
        process.wait(timeout=30)
        process, restart_seconds, _ = start_server(data_dir, port)
        try:
            result = asyncio.run(check(url, customers))
        finally:
            process.terminate()
            process.wait(timeout=30)
    acknowledged = sum(len(c.acknowledged) for c in customers)
    unanswered = sum(len(c.unanswered) for c in customers)
    command = "python scripts/kill_test.py" + (" --write" * args.write)
    text = "\n".join(
        [
            f"SIGKILL of the service after {args.seconds:g} s of {len(customers)} customers "
            "posting messages one after the other (each with its own `client_id`), then a "
            "restart on the same data folder (SQLite):",
            "",
            "| acknowledged before the kill | lost | out of order | in flight at the kill "
            "(re-posted) | stored twice after re-posting | restart |",
            "|---|---|---|---|---|---|",
            f"| {acknowledged} | **{result['lost']}** | {result['misordered']} | {unanswered} | "
            f"{result['stored_twice']} | {restart_seconds:.1f} s |",
            "",
            ran_on(command),
        ]
    )
    print(text)
    if args.write:
        write_doc_section("durability", text, path=SECURITY)
    if result["lost"] or result["misordered"] or result["stored_twice"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
