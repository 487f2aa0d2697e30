"""Other customers' turns during a flood of long messages, next to a baseline without it.

    python scripts/bench_flood.py [--flooders 16] [--customers 8] [--seconds 20]
        [--app-root PATH] [--label NAME] [--budget] [--write]

Starts the service (`python -m app serve` from `--app-root`, default this checkout, with a new
prepared data folder), then measures, over loopback:

1. baseline: `--customers` customers each asking the knowledge base's questions one after the
   other (a new conversation every three turns), for `--seconds`: their turns' p50 / p95;
2. flood: the same customers while `--flooders` clients each post 4,000-character messages in a
   loop, as fast as they are answered: the customers' p50 / p95 again, the ratio to the
   baseline, and what the flood got through (accepted, refused with 429).

The abuse limits are off (`SWITCHBOARD_RATE_LIMITS__ENABLED=false`, and the per-client text
budget `SWITCHBOARD_BUDGETS__ENABLED=false`) unless `--budget` keeps the budget on; the token
cap per message and the batching by length are part of the code measured. Run it once with
`--app-root` pointing at a checkout without them (the base commit) for the "before" figures.
`--write` puts the table (the rows of every run so far, by `--label`) into docs/SECURITY.md's
`flood` section.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.loadkit.scenarios import kb_questions
from scripts.reportkit import percentile, ran_on, write_doc_section
from scripts.servicekit import REPO_ROOT, free_port, service_env, stop_server

SECURITY = REPO_ROOT / "docs" / "SECURITY.md"
RESULTS = REPO_ROOT / "data" / "bench_flood.json"  # the runs so far, for the table
FLOOD_CHARS = 4000
LIMITS_OFF = {"SWITCHBOARD_RATE_LIMITS__ENABLED": "false", "SWITCHBOARD_BUDGETS__ENABLED": "false"}


@dataclass
class Phase:
    """One measured phase: the customers' turn times and what the flooders got."""

    turns: list[float] = field(default_factory=list)
    errors: int = 0
    flood_accepted: int = 0
    flood_refused: int = 0
    flood_errors: int = 0

    def p(self, q: float) -> float:
        return percentile(self.turns, q) * 1000.0


def start(
    app_root: Path, data_dir: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    """Prepare `data_dir` and serve the app of `app_root` on a free port until `/readyz`."""
    environment = {**service_env(data_dir, env), "PYTHONPATH": str(app_root)}
    subprocess.run(
        [sys.executable, "-m", "app", "kb", "sync"],
        cwd=app_root,
        env=environment,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)], cwd=app_root, env=environment
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process, port
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the service did not become ready in 180 s")


async def open_conversation(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    response = await client.post("/api/v1/conversations")
    response.raise_for_status()
    body = response.json()
    return body["id"], {"Authorization": f"Bearer {body['token']}"}


async def customer(
    client: httpx.AsyncClient, questions: list[str], offset: int, until: float, phase: Phase
) -> None:
    """Ask questions one after the other until `until`, timing each turn."""
    turn = 0
    opened = await open_conversation(client)
    while time.monotonic() < until:
        if turn and turn % 3 == 0:
            opened = await open_conversation(client)
        text = questions[(offset + turn * 7) % len(questions)]
        began = time.perf_counter()
        response = await client.post(
            f"/api/v1/conversations/{opened[0]}/messages", json={"text": text}, headers=opened[1]
        )
        if response.status_code == 201:
            phase.turns.append(time.perf_counter() - began)
        else:
            phase.errors += 1
        turn += 1


async def flooder(client: httpx.AsyncClient, number: int, until: float, phase: Phase) -> None:
    """Post 4,000-character messages (each different) as fast as they are answered."""
    opened = await open_conversation(client)
    sent = 0
    filler = "my parcel has not arrived and nobody answers my emails about it "
    while time.monotonic() < until:
        text = f"{number}-{sent} " + (filler * (FLOOD_CHARS // len(filler) + 1))
        response = await client.post(
            f"/api/v1/conversations/{opened[0]}/messages",
            json={"text": text[:FLOOD_CHARS]},
            headers=opened[1],
        )
        sent += 1
        if response.status_code == 201:
            phase.flood_accepted += 1
        elif response.status_code == 429:
            phase.flood_refused += 1
            await asyncio.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0))
        else:
            phase.flood_errors += 1
        if sent % 3 == 0:  # as the customers do: the flood is not held up by a handoff
            opened = await open_conversation(client)


async def measure(url: str, args: argparse.Namespace, questions: list[str]) -> dict[str, Phase]:
    limits = httpx.Limits(max_connections=args.customers + args.flooders + 4)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        warm = Phase()
        await asyncio.gather(
            *[customer(client, questions, i, time.monotonic() + 3, warm) for i in range(4)]
        )
        baseline, flood = Phase(), Phase()
        # Each customer from its own loopback address (127.0.2.N), as real customers are.
        customers = [
            httpx.AsyncClient(
                base_url=url,
                timeout=60,
                transport=httpx.AsyncHTTPTransport(local_address=f"127.0.2.{i + 1}"),
            )
            for i in range(args.customers)
        ]
        until = time.monotonic() + args.seconds
        await asyncio.gather(
            *[customer(c, questions, i, until, baseline) for i, c in enumerate(customers)]
        )
        # Each flooder from its own loopback address (127.0.1.N), as separate clients are.
        flooders = [
            httpx.AsyncClient(
                base_url=url,
                timeout=60,
                transport=httpx.AsyncHTTPTransport(local_address=f"127.0.1.{i + 1}"),
            )
            for i in range(args.flooders)
        ]
        try:
            until = time.monotonic() + args.seconds
            await asyncio.gather(
                *[customer(c, questions, i, until, flood) for i, c in enumerate(customers)],
                *[flooder(c, i, until, flood) for i, c in enumerate(flooders)],
            )
        finally:
            for c in [*flooders, *customers]:
                await c.aclose()
    return {"baseline": baseline, "flood": flood}


def table(runs: dict[str, dict[str, object]]) -> str:
    lines = [
        "| code | customers' p50 / p95 alone | during the flood | p95 ratio | flood "
        "messages answered / refused (429) / failed |",
        "|---|---|---|---|---|",
    ]
    for label, run in runs.items():
        base, flood = run["baseline"], run["flood"]
        assert isinstance(base, dict) and isinstance(flood, dict)
        lines.append(
            f"| {label} | {base['p50']:.0f} / {base['p95']:.0f} ms | "
            f"{flood['p50']:.0f} / {flood['p95']:.0f} ms | {flood['p95'] / base['p95']:.1f}x | "
            f"{flood['flood_accepted']} / {flood['flood_refused']} / {flood['flood_errors']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flooders", type=int, default=16)
    parser.add_argument("--customers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--app-root", type=Path, default=REPO_ROOT)
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--budget", action="store_true", help="keep the per-client budget on")
    parser.add_argument("--write", action="store_true", help="update docs/SECURITY.md")
    args = parser.parse_args()

    env = dict(LIMITS_OFF)
    if args.budget:
        # The budget is on only with the limits on; the others are set out of reach, so that
        # only the budget refuses (the customers all come from one address).
        env.update(
            {
                "SWITCHBOARD_BUDGETS__ENABLED": "true",
                "SWITCHBOARD_RATE_LIMITS__ENABLED": "true",
                "SWITCHBOARD_RATE_LIMITS__CONVERSATIONS_PER_ADDRESS": "1000000/minute",
                "SWITCHBOARD_RATE_LIMITS__MESSAGES_PER_ADDRESS": "1000000/minute",
                "SWITCHBOARD_RATE_LIMITS__MESSAGES_PER_CONVERSATION": "1000000/minute",
                "SWITCHBOARD_RATE_LIMITS__HANDOFFS_PER_ADDRESS": "1000000/minute",
            }
        )
    questions = kb_questions(REPO_ROOT / "knowledge_base")
    with tempfile.TemporaryDirectory(prefix="bench-flood-") as tmp:
        process, port = start(args.app_root.resolve(), Path(tmp) / "data", env)
        try:
            phases = asyncio.run(measure(f"http://127.0.0.1:{port}", args, questions))
        finally:
            stop_server(process)
    run = {
        name: {**asdict(phase), "turns": len(phase.turns), "p50": phase.p(50), "p95": phase.p(95)}
        for name, phase in phases.items()
    }
    print(json.dumps({args.label: run}, indent=2))
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    runs[args.label] = run
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(runs, indent=2))
    text = (
        f"{ran_on()}: {args.customers} customers asking the knowledge base's questions one "
        f"after the other for {args.seconds:g} s alone, then for {args.seconds:g} s while "
        f"{args.flooders} clients post {FLOOD_CHARS:,}-character messages as fast as they are "
        "answered; abuse limits off unless the row says budget on. Turn times are the "
        "customers' (HTTP, loopback).\n\n" + table(runs)
    )
    print(text)
    if args.write:
        write_doc_section("flood", text, path=SECURITY)


if __name__ == "__main__":
    main()
