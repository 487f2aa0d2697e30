"""Benchmarks one service process against several sharing the machine: is the GIL the limit?

One process runs SQLite's writer, the event loop and the encoder workers under one interpreter
lock. Several processes (`python -m app serve` on their own ports, one data folder, SQLite,
Redis for live events and knowledge-change notices as the README's scaled-out setup uses) each
have their own. This script runs the same 32 customers (`scripts/bench_throughput.py`'s load
generator and message mixes) against one process in its default layout and against N processes
(the customers spread over them; each process with cores/N encoder workers of one thread), in
turn, for several rounds, and reports turns/s, turn p50/p99 and the cores the service used.

Redis: `--redis-url`, or a throwaway `redis-server` (from PATH) on a free loopback port.

Run from the repo root: `.venv/bin/python scripts/bench_processes.py [--processes 2]
[--seconds 30] [--rounds 2] [--write]`; `--write` updates its section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts import bench_throughput as load  # noqa: E402
from scripts.reportkit import cores, percentile_ms, publish, ran_on  # noqa: E402
from scripts.servicekit import (  # noqa: E402
    free_port,
    prepare_data_dir,
    start_server,
    stop_server,
)

SECTION = "processes"
CUSTOMERS = 32


@dataclass
class Run:
    """One measured window of one layout."""

    processes: int
    mix: str
    turns_per_second: float
    p50_ms: float
    p99_ms: float
    server_cores: float
    machine_cores: float


@contextlib.contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    """`url`, or a throwaway Redis on a free loopback port for the run."""
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("no redis-server on PATH: install it (apt) or pass --redis-url")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _drive(
    ports: list[int], pids: list[int], mix: load.Mix, warmup: float, seconds: float
) -> tuple[load.LoadResult, float, float]:
    """The customers spread over `ports` for `warmup` + `seconds`; the last `seconds` count."""
    result = load.LoadResult(mix.name, CUSTOMERS, seconds)
    now = time.perf_counter()
    window = (now + warmup, now + warmup + seconds)
    async with load.customers_running(ports, mix, CUSTOMERS, window, result):
        await asyncio.sleep(max(0.0, window[0] - time.perf_counter()))
        before = [load.CpuSnapshot.take(pid) for pid in pids]
        await asyncio.sleep(max(0.0, window[1] - time.perf_counter()))
        after = [load.CpuSnapshot.take(pid) for pid in pids]
    uses = [load.cpu_use(pid, b, a, seconds) for pid, b, a in zip(pids, before, after, strict=True)]
    return result, sum(u["server_cores"] for u in uses), uses[0]["machine_cores"]


def measure(
    processes: int, mix_name: str, data_dir: Path, redis_url: str, args: argparse.Namespace
) -> Run:
    """Start the layout, run one mix through it, stop it."""
    env: dict[str, str] = {}
    if processes > 1:
        env = {
            "SWITCHBOARD_REDIS_URL": redis_url,
            "SWITCHBOARD_EMBEDDING__WORKERS": str(max(1, cores() // processes)),
            "SWITCHBOARD_EMBEDDING__THREADS": "1",
        }
    servers = []
    try:
        for _ in range(processes):  # one after the other: the first start writes nothing new
            port = free_port()
            process, _, _ = start_server(data_dir, port, env_overrides=env)
            servers.append((process, port))
        mix = load.Mix(mix_name, load.kb_questions(), repeated=mix_name == "repeated", seed=7)
        result, server_cores, machine_cores = load._run(
            _drive(
                [port for _, port in servers],
                [process.pid for process, _ in servers],
                mix,
                args.warmup,
                args.seconds,
            )
        )
    finally:
        for process, _ in servers:
            stop_server(process)
    run = Run(
        processes=processes,
        mix=mix_name,
        turns_per_second=len(result.latencies) / args.seconds,
        p50_ms=percentile_ms(result.latencies, 50),
        p99_ms=percentile_ms(result.latencies, 99),
        server_cores=server_cores,
        machine_cores=machine_cores,
    )
    print(
        f"{processes} process(es), {mix_name}: {run.turns_per_second:.0f} turns/s, "
        f"p50 {run.p50_ms:.0f} / p99 {run.p99_ms:.0f} ms, service {server_cores:.2f} cores",
        flush=True,
    )
    return run


def report(runs: list[Run], args: argparse.Namespace) -> str:
    """The markdown section: every run, and the median of each layout and mix."""
    lines = [
        "### One service process or several (`scripts/bench_processes.py`)",
        "",
        f"{ran_on()}. "
        f"{CUSTOMERS} customers (`bench_throughput.py`'s load generator and mixes), "
        f"{args.seconds:.0f} s measured after {args.warmup:.0f} s of warm-up, the layouts in "
        f"turn for {args.rounds} rounds. One process: the default layout. "
        f"{args.processes} processes: one data folder (SQLite), Redis, the customers spread "
        "over them, each with cores/N encoder workers of one thread.",
        "",
        "| mix | processes | turns/s (median; each round) | p50 / p99 (ms, median) | "
        "service cores | machine cores |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mix in args.mixes.split(","):
        for processes in (1, args.processes):
            mine = [r for r in runs if r.mix == mix and r.processes == processes]
            rates = ", ".join(f"{r.turns_per_second:.0f}" for r in mine)
            lines.append(
                f"| {mix} | {processes} | "
                f"**{statistics.median(r.turns_per_second for r in mine):.0f}** ({rates}) | "
                f"{statistics.median(r.p50_ms for r in mine):.0f} / "
                f"{statistics.median(r.p99_ms for r in mine):.0f} | "
                f"{statistics.median(r.server_cores for r in mine):.2f} | "
                f"{statistics.median(r.machine_cores for r in mine):.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=2, help="the several (default 2)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds per run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both layouts")
    parser.add_argument("--mixes", default="varied,repeated", help="varied, repeated")
    parser.add_argument("--redis-url", help="an existing Redis (default: start a throwaway one)")
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.processes < 2:
        parser.error("--processes must be at least 2")
    unknown = set(args.mixes.split(",")) - {"varied", "repeated"}
    if unknown:
        parser.error(f"unknown mix {sorted(unknown)[0]!r}: use varied, repeated")
    runs: list[Run] = []
    with (
        tempfile.TemporaryDirectory(prefix="switchboard-processes-") as tmp,
        redis_server(args.redis_url) as redis_url,
    ):
        data_dir = Path(tmp) / "data"
        prepare_data_dir(data_dir)
        for _ in range(args.rounds):
            for mix in args.mixes.split(","):
                for processes in (1, args.processes):
                    runs.append(measure(processes, mix, data_dir, redis_url, args))
    publish(report(runs, args), SECTION, write=args.write)


if __name__ == "__main__":
    main()
