"""Benchmarks live knowledge-base changes on the real service.

Starts `python -m app serve` on loopback with a fresh data folder (SQLite) and a first admin,
then measures:

1. **Edit to answer.** `--edits` times: an admin saves a new body (PUT, without waiting) with
   a fresh code word in it, and the clock runs until a customer question's answer (through
   `POST /api/v1/admin/try`, the same pipeline as a turn, polled every 10 ms) contains it.
2. **A large import while customers chat.** `--customers` customers ask questions in a loop
   (new conversation each time); their turns are timed at rest for `--rest-seconds`, then
   during a `--import-articles`-article JSON import (synthetic store articles), from the POST
   until the index serves the new revision (`/readyz`). Reports the wall time to live, failed
   customer requests (must be 0) and customer p50/p99 at rest vs during the import.
3. **Re-embedding throughput**: articles and passages embedded per second by that build
   (from `/readyz`: passages embedded and the build's seconds), and by a build of
   `--throughput-articles` more with no customers chatting.

Run from the repo root: `python scripts/bench_kb.py [--edits 50] [--import-articles 2000]
[--write]`; `--write` updates the generated section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts.reportkit import percentile_ms, publish, ran_on  # noqa: E402
from scripts.servicekit import bearer, fresh_service, login  # noqa: E402

ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench admin password"
QUESTIONS = [
    "how long does my refund take to show up",
    "can I pay with klarna",
    "do you ship to Canada?",
    "what is your return policy",
    "my parcel says delivered but it's not here",
    "is there a warranty on headphones",
    "when is your support team available",
    "how do I delete my account and data",
]
PRODUCTS = ["tent", "kettle", "lantern", "backpack", "sleeping bag", "stove", "hammock", "jacket"]
TOPICS = [
    (
        "How do I clean the {p} ({n})?",
        "Wipe the {p} with warm soapy water; model {n} is machine "
        "washable on a gentle cycle. Let it dry fully before storing it.",
    ),
    (
        "What size is the {p} ({n})?",
        "The {p} model {n} measures {a} by {b} centimetres and "
        "weighs {c} grams. The product page lists every variant.",
    ),
    (
        "Is the {p} ({n}) waterproof?",
        "Model {n} of the {p} is rated IPX{d}: it resists rain "
        "and splashes but should not be submerged.",
    ),
]


def synthetic_articles(count: int, seed: int = 3) -> list[dict[str, Any]]:
    """Plausible store articles with distinct titles (for scale, not for quality)."""
    rng = random.Random(seed)
    articles = []
    for i in range(count):
        title, body = TOPICS[i % len(TOPICS)]
        values = {
            "p": PRODUCTS[(i // len(TOPICS)) % len(PRODUCTS)],
            "n": f"LS-{1000 + i}",
            "a": rng.randint(20, 200),
            "b": rng.randint(20, 200),
            "c": rng.randint(100, 5000),
            "d": rng.randint(4, 7),
        }
        articles.append(
            {
                "title": title.format(**values),
                "body": body.format(**values),
                "questions": [f"{values['p']} {values['n']} question"],
                "tags": ["catalog"],
                "slug": f"catalog/item-{i:05d}",
            }
        )
    return articles


async def edit_to_answer(
    client: httpx.AsyncClient, admin: dict[str, str], edits: int
) -> list[float]:
    """Seconds from each edit's save to the first answer that shows it."""
    article = {
        "title": "Do you offer engraving on flasks?",
        "body": "Yes, engraving is available.",
        "questions": ["can you engrave my flask", "flask engraving"],
    }
    created = await client.post(
        "/api/v1/admin/kb/articles", params={"wait": "true"}, json=article, headers=admin
    )
    created.raise_for_status()
    article_id = created.json()["id"]
    times = []
    for i in range(edits):
        word = f"code{i:04d}x"
        started = time.perf_counter()
        saved = await client.put(
            f"/api/v1/admin/kb/articles/{article_id}",
            json={**article, "body": f"Yes, engraving is available (reference {word})."},
            headers=admin,
        )
        saved.raise_for_status()
        while True:
            tried = await client.post(
                "/api/v1/admin/try", json={"text": "can you engrave my flask?"}, headers=admin
            )
            if word in tried.json()["reply"]["text"]:
                break
            await asyncio.sleep(0.01)
        times.append(time.perf_counter() - started)
    return times


class Customers:
    """Customers asking questions in a loop, each turn timed and labelled by phase."""

    def __init__(self, client: httpx.AsyncClient, count: int) -> None:
        self.client = client
        self.count = count
        self.phase = "rest"
        self.latencies: dict[str, list[float]] = {"rest": [], "import": []}
        self.failures: dict[str, int] = {"rest": 0, "import": 0}
        self.running = True

    async def one(self, n: int) -> None:
        """Customer `n`: a new conversation and one question, again and again."""
        rng = random.Random(n)
        while self.running:
            phase = self.phase
            started = time.perf_counter()
            try:
                created = await self.client.post("/api/v1/conversations")
                body = created.json()
                turn = await self.client.post(
                    f"/api/v1/conversations/{body['id']}/messages",
                    json={"text": rng.choice(QUESTIONS)},
                    headers=bearer(body["token"]),
                )
                ok = created.status_code == 201 and turn.status_code == 201
            except httpx.HTTPError:
                ok = False
            if phase == self.phase and phase in self.latencies:
                if ok:
                    self.latencies[phase].append(time.perf_counter() - started)
                else:
                    self.failures[phase] += 1

    async def run(self) -> list[asyncio.Task[None]]:
        """Start every customer; their tasks."""
        return [asyncio.create_task(self.one(n)) for n in range(self.count)]


async def large_import(
    client: httpx.AsyncClient, admin: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    """Customers chatting at rest, then during a large import until it is live: its times and
    the customers' turns in both phases."""
    customers = Customers(client, args.customers)
    tasks = await customers.run()
    await asyncio.sleep(args.rest_seconds)
    customers.phase = "import"
    articles = synthetic_articles(args.import_articles)
    started = time.perf_counter()
    response = await client.post(
        "/api/v1/admin/kb/import", json={"articles": articles}, headers=admin, timeout=600
    )
    response.raise_for_status()
    revision = response.json()["revision"]
    saved = time.perf_counter() - started
    while True:
        ready = (await client.get("/readyz")).json()
        if ready["knowledge"]["revision"] >= revision:
            break
        await asyncio.sleep(0.05)
    live = time.perf_counter() - started
    customers.phase = "after"
    customers.running = False
    await asyncio.gather(*tasks)
    knowledge = ready["knowledge"]

    def pct(values: list[float], q: float) -> float:
        return percentile_ms(values, q) if values else float("nan")

    return {
        "articles": len(articles),
        "saved_seconds": saved,
        "live_seconds": live,
        "build_seconds": knowledge["last_build_seconds"],
        "embedded": knowledge["embedded_at_last_build"],
        "rest": {
            "turns": len(customers.latencies["rest"]),
            "failed": customers.failures["rest"],
            "p50": pct(customers.latencies["rest"], 50),
            "p99": pct(customers.latencies["rest"], 99),
        },
        "import": {
            "turns": len(customers.latencies["import"]),
            "failed": customers.failures["import"],
            "p50": pct(customers.latencies["import"], 50),
            "p99": pct(customers.latencies["import"], 99),
        },
    }


async def quiet_build(
    client: httpx.AsyncClient, admin: dict[str, str], count: int
) -> dict[str, float]:
    """Re-embedding throughput with no customers: import `count` new articles and read the
    build that made them live."""
    articles = synthetic_articles(count, seed=11)
    for article in articles:
        article["slug"] = article["slug"].replace("catalog/", "catalog-b/")
        article["title"] = article["title"] + " (B)"
    response = await client.post(
        "/api/v1/admin/kb/import",
        params={"wait": "true"},
        json={"articles": articles},
        headers=admin,
        timeout=600,
    )
    response.raise_for_status()
    knowledge = (await client.get("/readyz")).json()["knowledge"]
    seconds = knowledge["last_build_seconds"]
    return {
        "articles": count,
        "passages": knowledge["embedded_at_last_build"],
        "seconds": seconds,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the service, measure the three parts, stop it; the figures."""
    env = {"SWITCHBOARD_ADMIN_EMAIL": ADMIN_EMAIL, "SWITCHBOARD_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with fresh_service(env) as service:
        async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
            admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
            edits = await edit_to_answer(client, admin, args.edits)
            big = await large_import(client, admin, args)
            alone = await quiet_build(client, admin, args.throughput_articles)
    return {
        "edits": len(edits),
        "edit_p50": percentile_ms(edits, 50),
        "edit_p95": percentile_ms(edits, 95),
        "edit_max": max(edits) * 1000.0,
        "import": big,
        "alone": alone,
    }


def table(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The Markdown section of docs/BENCHMARKS.md."""
    big = result["import"]
    alone = result["alone"]
    rate = big["articles"] / big["build_seconds"] if big["build_seconds"] else float("nan")
    passages = big["embedded"] / big["build_seconds"] if big["build_seconds"] else float("nan")
    return "\n".join(
        [
            "### Knowledge base: live edits and a large import",
            "",
            f"{ran_on()}, SQLite, one service process on loopback.",
            "",
            "| Figure | Value |",
            "|---|---|",
            f"| Edit saved -> answer shows it, p50 ({result['edits']} edits) "
            f"| {result['edit_p50']:.0f} ms |",
            f"| Edit saved -> answer shows it, p95 / max | {result['edit_p95']:.0f} ms / "
            f"{result['edit_max']:.0f} ms |",
            f"| {big['articles']:,}-article import: saved (validated, one transaction) "
            f"| {big['saved_seconds']:.1f} s |",
            f"| {big['articles']:,}-article import: wall time to live "
            f"| {big['live_seconds']:.1f} s |",
            f"| Failed customer requests during the import | **{big['import']['failed']}** "
            f"(of {big['import']['turns'] + big['import']['failed']}) |",
            f"| Customer turn p50 / p99 at rest ({args.customers} customers) "
            f"| {big['rest']['p50']:.0f} / {big['rest']['p99']:.0f} ms |",
            f"| Customer turn p50 / p99 during the import | {big['import']['p50']:.0f} / "
            f"{big['import']['p99']:.0f} ms |",
            f"| Re-embedding throughput during the import (customers served first) "
            f"| {rate:.0f} articles/s ({passages:.0f} passages/s) |",
            f"| Re-embedding throughput with no customers ({alone['articles']:,} articles) "
            f"| {alone['articles'] / alone['seconds']:.0f} articles/s "
            f"({alone['passages'] / alone['seconds']:.0f} passages/s) |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--import-articles", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=4)
    parser.add_argument("--rest-seconds", type=float, default=15.0)
    parser.add_argument("--throughput-articles", type=int, default=500)
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    publish(table(result, args), "kb", write=args.write)
    sys.exit(1 if result["import"]["import"]["failed"] else 0)


if __name__ == "__main__":
    main()
