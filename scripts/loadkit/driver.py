"""The load test's asyncio driver: one run against a service, from the first request to the
result.

`run_load` opens one httpx client sized for the run and drives it: the service must be ready;
the agents are created and come online; the customers start together and no task starts after
`duration` (or once `max_turns` customer messages were posted); what is under way gets `drain`
seconds more, then is cut off; the agents stop; every conversation is read back with its
customer token and checked against what was sent and delivered (`report.account`); the agent
accounts are deactivated. `run_load_watching` also samples the service's resident memory once a
second when its pid is known.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from contextlib import suppress

import httpx

from scripts.loadkit.client import replayed_seqs, stored_messages
from scripts.loadkit.config import STREAM_OPEN_SECONDS, LoadConfig
from scripts.loadkit.report import CHECK_READ, Conversation, LoadResult, account, summarise
from scripts.loadkit.scenarios import Customer, LoadRun, make_agents, retire
from scripts.servicekit import memory_kb


async def verify(run: LoadRun) -> dict[str, int]:
    """Read every conversation back and count what was lost, duplicated, undelivered."""
    totals: Counter[str] = Counter()
    gate = asyncio.Semaphore(8)

    async def one(conv: Conversation) -> None:
        async with gate:
            stored = await stored_messages(run.api, conv, CHECK_READ)
            if stored is None:
                totals["unverified"] += 1
                return

            async def replay(after: int) -> set[int]:
                return await replayed_seqs(run.ws_base, conv, run.recorder, after=after)

            await account(conv, stored, totals, run.recorder.problem, replay)

    await asyncio.gather(*(one(c) for c in list(run.conversations.values())))
    return dict(totals)


async def drive(run: LoadRun) -> LoadResult:
    """Run the customers and agents of `run` to the end and account for every message."""
    config = run.config
    recorder = run.recorder
    ready = await run.api.call("readyz", "GET", "/readyz")
    if ready is None:
        raise SystemExit(f"{config.base_url} is not ready: {recorder.problems[-1:]}")
    database = ready.json().get("database")
    agents = await make_agents(run)
    agent_tasks = [asyncio.create_task(agent.serve()) for agent in agents]
    with suppress(TimeoutError):  # customers start once the agents are online
        async with asyncio.timeout(STREAM_OPEN_SECONDS):
            await asyncio.gather(*(agent.online.wait() for agent in agents))
    offline = sum(1 for agent in agents if not agent.online.is_set())
    if offline:
        recorder.counters["agents not online at the start"] += offline
    run.started = time.perf_counter()
    cpu_started = time.process_time()
    run.deadline = run.started + config.duration
    customer_tasks = [asyncio.create_task(Customer(run, n).live()) for n in range(config.customers)]
    try:
        _, pending = await asyncio.wait(customer_tasks, timeout=config.duration + config.drain)
        for task in pending:
            task.cancel()
        recorder.counters["customer sessions cut off after the drain"] += len(pending)
        results = await asyncio.gather(*customer_tasks, return_exceptions=True)
        for outcome in results:
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                recorder.errors[f"customer crashed {type(outcome).__name__}"] += 1
                recorder.problem(f"customer crashed: {outcome!r}")
        ended = time.perf_counter()
        driver_cpu = time.process_time() - cpu_started
    finally:
        for task in agent_tasks:
            task.cancel()
        outcomes = await asyncio.gather(*agent_tasks, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            recorder.errors[f"agent crashed {type(outcome).__name__}"] += 1
            recorder.problem(f"agent crashed: {outcome!r}")
    totals = await verify(run)
    if agents:
        await retire(run, agents)
    return summarise(
        config,
        recorder,
        totals,
        seconds=ended - run.started,
        window=(run.last_turn or ended) - run.started,
        turns=run.turns,
        conversations=len(run.conversations),
        database=database,
        driver_cpu=driver_cpu,
    )


async def run_load(config: LoadConfig) -> LoadResult:
    """Run the load test described by `config` against the service at `config.base_url`."""
    connections = config.customers + 3 * config.agents + 8
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them, else a
    # request sent just as the server closes its end fails with ReadError (a client artefact).
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(base_url=config.base_url, timeout=30, limits=limits) as client:
        return await drive(LoadRun(config, client))


def resident_mb(pid: int) -> float | None:
    """The process's resident memory (VmRSS) in MiB, or None when it cannot be read."""
    try:
        rss = memory_kb(pid).get("VmRSS")
    except OSError:
        return None
    return rss / 1024 if rss is not None else None


async def run_load_watching(config: LoadConfig, pid: int | None) -> LoadResult:
    """`run_load`, sampling the service's resident memory once a second when `pid` is given."""
    if pid is None:
        return await run_load(config)
    rest = resident_mb(pid)
    samples: list[float] = []

    async def sample() -> None:
        while True:
            value = resident_mb(pid)
            if value is not None:
                samples.append(value)
            await asyncio.sleep(1.0)

    sampler = asyncio.create_task(sample())
    try:
        result = await run_load(config)
    finally:
        sampler.cancel()
    result.service_rss_rest_mb = rest
    if samples:
        result.service_rss_median_mb = statistics.median(samples)
        result.service_rss_peak_mb = max(samples)
    return result
