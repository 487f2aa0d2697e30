"""Benchmarks a KB-answer turn over HTTP against the bare model encode, and start-up time.

Starts the real service (`python -m app serve`) on loopback with a fresh data folder and:
1. times the cold start (ONNX export + embedding the demo KB) and a warm restart (nothing
   changed: reuses the persisted index, must embed 0 passages) until `/readyz` answers;
2. measures, interleaved in one run, the bare encode of a message with the fastest backend
   (ONNX, in this process) and a full customer turn over HTTP for the same message
   (POST /api/v1/conversations/{id}/messages: auth, idempotency check, encode, search, policy,
   two messages and an event written to SQLite), and reports p50/p95 and the ratio of medians.

Run from the repo root: `python scripts/bench_turn.py [--turns 300] [--write]`; `--write`
updates the generated section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from app.config import bundled_model_path  # noqa: E402
from app.nlp.embedder import Embedder  # noqa: E402
from scripts.reportkit import machine_description, percentile_ms, publish, today  # noqa: E402
from scripts.servicekit import add_server_timing, free_port, start_server, stop_server  # noqa: E402

QUESTIONS = [
    "how long does my refund take to show up",
    "can I pay with klarna",
    "do you ship to Canada?",
    "I never got the password reset email",
    "what is your return policy",
    "my parcel says delivered but it's not here",
    "how do I change my shipping address",
    "is there a warranty on headphones",
    "when is your support team available",
    "can I use two promo codes on one order",
    "how do I delete my account and data",
    "the item I received is broken",
]


def _open(port: int) -> tuple[str, dict[str, str]]:
    """A new conversation: its messages URL and the headers of a post to it."""
    conversation = httpx.post(f"http://127.0.0.1:{port}/api/v1/conversations").json()
    headers = {
        "Authorization": f"Bearer {conversation['token']}",
        "Content-Type": "application/json",
    }
    return f"/api/v1/conversations/{conversation['id']}/messages", headers


def measure_turns(
    port: int, embedder: Embedder, turns: int, round_number: int
) -> tuple[list[float], list[float], dict[str, list[float]], dict[str, int]]:
    """Interleaved bare-encode and HTTP-turn timings (seconds) for the same messages, the
    server's own stage timings (milliseconds, from its `Server-Timing` header), and how many
    replies of each kind were timed. A conversation handed to a person gets no bot replies, so
    the next turn opens a new conversation (untimed), as does every fifth turn. Every message
    of every round is new to the server (its cache of recent messages' vectors would otherwise
    answer the later rounds without encoding)."""
    encode_times: list[float] = []
    turn_times: list[float] = []
    stages: dict[str, list[float]] = {}
    kinds: dict[str, int] = {}
    url, headers = _open(port)
    # The standard library's client, on one keep-alive connection: it adds about 0.25 ms per
    # request here (httpx about 0.6 ms), so the figure is the service's cost, not the client's.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for i in range(turns + 20):
            text = f"{QUESTIONS[i % len(QUESTIONS)]} ({round_number}.{i})"
            body = json.dumps({"text": text, "client_id": f"b{i}"})
            t0 = time.perf_counter()
            embedder.encode([text])
            t1 = time.perf_counter()
            connection.request("POST", url, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            t2 = time.perf_counter()
            if response.status != 201:
                raise SystemExit(f"turn failed: {response.status} {payload[:200]!r}")
            reply = json.loads(payload)["reply"]
            if reply is None:
                raise SystemExit("a timed turn got no bot reply")
            if i >= 20:  # the first 20 warm both paths up
                encode_times.append(t1 - t0)
                turn_times.append(t2 - t1)
                kinds[reply["kind"]] = kinds.get(reply["kind"], 0) + 1
                add_server_timing(stages, response.getheader("server-timing") or "")
            if reply["kind"] == "handoff" or i % 5 == 4:
                url, headers = _open(port)
    finally:
        connection.close()
    return encode_times, turn_times, stages, kinds


async def _customer(
    client: httpx.AsyncClient, deadline: float, latencies: list[float], number: int, level: int
) -> None:
    """One customer: questions back to back until the deadline, in a new conversation after a
    handoff (a person's conversation gets no bot replies) and every fifth question; texts
    unique to the load level (`level`), so none comes from the server's cache of vectors."""
    url, headers = "", {}
    i = 0
    while time.perf_counter() < deadline:
        if i % 5 == 0 or not url:
            created = (await client.post("/api/v1/conversations")).json()
            headers = {"Authorization": f"Bearer {created['token']}"}
            url = f"/api/v1/conversations/{created['id']}/messages"
        text = f"{QUESTIONS[(number + i) % len(QUESTIONS)]} ({level}:{number}-{i})"
        started = time.perf_counter()
        response = await client.post(url, json={"text": text}, headers=headers)
        if response.status_code != 201:
            raise SystemExit(f"turn failed: {response.status_code} {response.text}")
        latencies.append(time.perf_counter() - started)
        reply = response.json()["reply"]
        if reply is None or reply["kind"] == "handoff":
            url = ""
        i += 1


async def measure_load(port: int, customers: int, seconds: float) -> dict[str, float]:
    """Turns per second and latency with `customers` chatting at once, and the encoder's mean
    batch size over the run (from /readyz)."""
    limits = httpx.Limits(max_connections=customers, max_keepalive_connections=customers)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        before = (await client.get("/readyz")).json()["encoder"]
        latencies: list[float] = []
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *[_customer(client, deadline, latencies, n, customers) for n in range(customers)]
        )
        elapsed = time.perf_counter() - started
        after = (await client.get("/readyz")).json()["encoder"]
    batches = after["batches"] - before["batches"]
    return {
        "customers": customers,
        "turns_per_second": len(latencies) / elapsed,
        "p50": percentile_ms(latencies, 50),
        "p99": percentile_ms(latencies, 99),
        "mean_batch": (after["texts"] - before["texts"]) / batches if batches else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=300, help="measured turns (after warm-up)")
    parser.add_argument("--rounds", type=int, default=3, help="measurement rounds (same server)")
    parser.add_argument(
        "--load-seconds", type=float, default=15.0, help="seconds per concurrency level"
    )
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        port = free_port()
        process, cold, _ = start_server(data_dir, port)
        stop_server(process)
        process, warm, ready = start_server(data_dir, port)
        try:
            embedder = Embedder(bundled_model_path(), backend="onnx", cache_dir=data_dir / "models")
            encode_times, turn_times, stages = [], [], {}
            kinds: dict[str, int] = {}
            round_ratios = []
            for number in range(args.rounds):
                enc, turn, round_stages, round_kinds = measure_turns(
                    port, embedder, args.turns, number
                )
                for kind, count in round_kinds.items():
                    kinds[kind] = kinds.get(kind, 0) + count
                round_ratios.append(float(np.median(turn) / np.median(enc)))
                encode_times += enc
                turn_times += turn
                for stage, values in round_stages.items():
                    stages.setdefault(stage, []).extend(values)
            load = [
                asyncio.run(measure_load(port, customers, args.load_seconds))
                for customers in (1, 4, 16, 32)
            ]
        finally:
            stop_server(process)

    enc50, enc95 = percentile_ms(encode_times, 50), percentile_ms(encode_times, 95)
    turn50, turn95 = percentile_ms(turn_times, 50), percentile_ms(turn_times, 95)
    command = "python scripts/bench_turn.py " + shlex.join(
        a for a in sys.argv[1:] if a != "--write"
    )
    table = "\n".join(
        [
            "### A customer turn over HTTP vs the bare model encode",
            "",
            f"{args.rounds} rounds of {args.turns} turns, each interleaved with a bare encode of "
            "the same message (a new conversation every 5 turns and after a handoff, SQLite, "
            "loopback, keep-alive `http.client`); every turn runs the whole pipeline: encode, "
            "search, intent head, sentiment, policy, storage. Replies timed: "
            + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
            + ". "
            f"{today()}, {machine_description()}.",
            f"Command: `{command.strip()}`.",
            "",
            "| measure | p50 (ms) | p95 (ms) |",
            "|---|---:|---:|",
            f"| bare encode, ONNX backend (in process) | {enc50:.2f} | {enc95:.2f} |",
            f"| full turn over HTTP | {turn50:.2f} | {turn95:.2f} |",
            f"| **ratio turn / encode (medians)** | **{turn50 / enc50:.2f}x** | "
            f"{turn95 / enc95:.2f}x |",
            "",
            "Ratio of medians in each round: " + ", ".join(f"{r:.2f}x" for r in round_ratios) + ".",
            "",
            "Where a turn's time goes inside the server (medians of its `Server-Timing` header; "
            "the rest is HTTP parsing, validation and the client):",
            "",
            "| stage | p50 (ms) |",
            "|---|---:|",
            *[f"| {stage} | {float(np.median(values)):.2f} |" for stage, values in stages.items()],
            "",
            "### Throughput as load grows (micro-batching)",
            "",
            f"Customers chatting at once, each sending KB questions back to back for "
            f"{args.load_seconds:.0f} s (httpx async client in the same machine).",
            "",
            "| customers | turns/s | p50 (ms) | p99 (ms) | mean encoder batch |",
            "|---:|---:|---:|---:|---:|",
            *[
                f"| {r['customers']} | {r['turns_per_second']:.0f} | {r['p50']:.1f} | "
                f"{r['p99']:.1f} | {r['mean_batch']:.1f} |"
                for r in load
            ],
            "",
            "### Start-up to ready (demo KB)",
            "",
            "| start | seconds | passages embedded |",
            "|---|---:|---:|",
            f"| first start (ONNX export + embedding the KB) | {cold:.1f} | all |",
            f"| restart, content unchanged | {warm:.1f} | "
            f"{ready['knowledge']['embedded_at_last_build']} |",
        ]
    )
    publish(table, "turn", write=args.write)


if __name__ == "__main__":
    main()
