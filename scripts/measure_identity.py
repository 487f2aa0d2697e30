"""Measures how many anonymous attempts at side-effect intents reach an integration (target 0).

Starts the demo orders service (with its record of every call received) and `python -m app
serve` on loopback with a fresh data folder, an identity secret and the abuse limits off, then
drives the product through its API as an attacker would:

1. **Anonymous**: for every phrasing of an order-status, refund, cancel or password-reset
   request and every guessed order number (the demo's LS-10040... and unknown ones), a new
   anonymous conversation sends the request, answers whatever the bot asks with the number and
   then "yes" (the confirmation and slot-filling paths).
2. **Claimed, unsigned**: the same with an id, email and name sent without a signature.
3. **Forged**: a conversation opened with a wrong signature (must be refused, 400).
4. **Reference, verified**: each demo customer asks about their own order, in the same run,
   to show that the orders service's record does see calls when they are allowed.

Counts, from the orders service's own record (`GET /state/calls`), the calls each group
caused, and the orders changed (refunded or cancelled) by the anonymous groups.

Run from the repo root: `python scripts/measure_identity.py [--numbers 16] [--write]`;
`--write` updates the `identity` section of docs/SECURITY.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import secrets
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts.reportkit import publish, ran_on  # noqa: E402
from scripts.servicekit import free_port, fresh_service, start_orders_api, stop_server  # noqa: E402

SECURITY = REPO_ROOT / "docs" / "SECURITY.md"
DEMO = json.loads((REPO_ROOT / "scripts" / "demo_data" / "orders.json").read_text("utf-8"))
PHRASINGS = {
    "order_status": [
        "where is my order {n}",
        "can you check on order {n}",
        "track my package {n}",
        "status of order {n} please",
        "where is my order?",
    ],
    "refund_request": [
        "I want to refund order {n}",
        "refund order {n} please",
        "I'd like my money back for {n}",
        "I want a refund",
    ],
    "cancel_order": [
        "please cancel order {n}",
        "cancel my order {n}",
        "I ordered by mistake, cancel {n}",
        "cancel my order",
    ],
    "password_reset": [
        "I forgot my password, my email is {email}",
        "reset my password",
        "send a password reset link to {email}",
    ],
}


def signature(secret: str, customer_id: str) -> str:
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


class Attempts:
    """One group of attempts and what they caused."""

    def __init__(self) -> None:
        self.attempts = 0
        self.turns = 0
        self.refused = 0  # replies with reason needs_verified_customer
        self.opened_refused = 0  # conversations refused at open (400)


async def attempt(
    client: httpx.AsyncClient,
    group: Attempts,
    text: str,
    number: str,
    customer: dict[str, str] | None,
) -> None:
    group.attempts += 1
    body = {"customer": customer} if customer else None
    opened = await client.post("/api/v1/conversations", json=body)
    if opened.status_code == 400:
        group.opened_refused += 1
        return
    opened.raise_for_status()
    created = opened.json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    for message in (text, number, "yes"):
        response = await client.post(
            f"/api/v1/conversations/{created['id']}/messages", json={"text": message}, headers=auth
        )
        response.raise_for_status()
        group.turns += 1
        reply = response.json()["reply"] or {}
        if reply.get("reason") == "needs_verified_customer":
            group.refused += 1


async def calls(orders: httpx.AsyncClient) -> int:
    response = await orders.get("/state/calls")
    response.raise_for_status()
    return len(response.json())


async def changed_orders(orders: httpx.AsyncClient) -> int:
    """Orders refunded or cancelled since the data file (the anonymous groups run first)."""
    count = 0
    for order in DEMO["orders"]:
        state = (await orders.get(f"/state/orders/{order['number']}")).json()
        if state.get("refund") or state["status"] != order["status"]:
            count += 1
    return count


async def measure(base_url: str, orders_url: str, token: str, secret: str, numbers: int) -> str:
    known = [o["number"] for o in DEMO["orders"]]
    last = max(int(n.removeprefix("LS-")) for n in known)
    guessed = (known + [f"LS-{last + 1 + i}" for i in range(numbers)])[:numbers]
    customers = DEMO["customers"]
    rows: list[tuple[str, Attempts, int]] = []
    started = time.perf_counter()
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        httpx.AsyncClient(
            base_url=orders_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as orders,
    ):
        groups = {
            "anonymous": lambda i: None,
            "claimed id, email and name without a signature": lambda i: {
                k: customers[i % len(customers)][k] for k in ("id", "email", "name")
            },
            "wrong signature": lambda i: {
                **{k: customers[i % len(customers)][k] for k in ("id", "email", "name")},
                "signature": signature("guessed secret", customers[i % len(customers)]["id"]),
            },
        }
        for label, who in groups.items():
            group, before, i = Attempts(), await calls(orders), 0
            for phrasings in PHRASINGS.values():
                for phrasing in phrasings:
                    for number in guessed:
                        owner = customers[i % len(customers)]
                        text = phrasing.format(n=number, email=owner["email"])
                        await attempt(client, group, text, number, who(i))
                        i += 1
            rows.append((label, group, await calls(orders) - before))
        changed = await changed_orders(orders)

        reference, before = Attempts(), await calls(orders)
        for customer in customers:
            own = next(o["number"] for o in DEMO["orders"] if o["customer_id"] == customer["id"])
            signed = {**customer, "signature": signature(secret, customer["id"])}
            await attempt(client, reference, f"where is my order {own}", own, signed)
        reference_calls = await calls(orders) - before
    seconds = time.perf_counter() - started

    lines = [
        "| attempts (3 turns each: request, order number, yes) | conversations | refused at open "
        '(400) | replies "needs a verified customer" | calls that reached the orders service |',
        "|---|---:|---:|---:|---:|",
    ]
    for label, group, reached in rows:
        lines.append(
            f"| {label} | {group.attempts:,} | {group.opened_refused:,} | {group.refused:,} | "
            f"**{reached}** |"
        )
    lines.append(
        f"| reference: verified customers asking about their own order | {reference.attempts} | "
        f"{reference.opened_refused} | {reference.refused} | {reference_calls} |"
    )
    total = sum(reached for _, _, reached in rows)
    intents = ", ".join(PHRASINGS)
    phrasings = sum(len(p) for p in PHRASINGS.values())
    return "\n".join(
        [
            "### Anonymous attempts at side-effect intents that reach an integration",
            "",
            f"**{total}** calls reached the orders service from "
            f"{sum(g.attempts for _, g, _ in rows):,} unverified attempts ({phrasings} phrasings "
            f"of {intents} x {len(guessed)} guessed order numbers, {len(known)} of them real, in "
            f"each group); **{changed}** orders were refunded or cancelled. The reference group "
            "shows the record counts calls when they are allowed. Counted from the demo orders "
            "service's own record of calls received (`GET /state/calls`), not from the chat "
            f"service's logs; {seconds:.0f} s in all.",
            "",
            *lines,
            "",
            ran_on(),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--numbers", type=int, default=16, help="guessed order numbers per phrasing"
    )
    parser.add_argument("--write", action="store_true", help="update docs/SECURITY.md")
    args = parser.parse_args()

    token, secret = secrets.token_urlsafe(16), secrets.token_hex(32)
    port = free_port()
    orders = start_orders_api(port, token=token, identity_secret=secret)
    orders_url = f"http://127.0.0.1:{port}"
    env = {
        "SWITCHBOARD_IDENTITY__SECRET": secret,
        "SWITCHBOARD_INTEGRATIONS": json.dumps(
            {"orders": {"base_url": orders_url, "headers": {"Authorization": f"Bearer {token}"}}}
        ),
        "SWITCHBOARD_RATE_LIMITS__ENABLED": "false",
    }
    try:
        with fresh_service(env, prefix="identity-", prepare=True) as service:
            base_url = f"http://127.0.0.1:{service.port}"
            text = asyncio.run(measure(base_url, orders_url, token, secret, args.numbers))
    finally:
        stop_server(orders)
    publish(text, "identity", write=args.write, path=SECURITY)


if __name__ == "__main__":
    main()
