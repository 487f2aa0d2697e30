"""The figures of a load test and what they are counted from.

- `Recorder`: every simulated person's latencies (by operation), HTTP and stream errors,
  counters and the first problems spelled out; `OperationStats` are its percentiles.
- `Conversation` and `Sent`: the ledger of one conversation (what the driver posted, whether
  the service acknowledged it, what the bot returned, what the customer stream delivered).
- `account`: a conversation read back, checked against its ledger: messages lost, duplicated,
  undelivered on the stream, delivered twice, seq gaps, unexpected messages.
- `LoadResult` (built by `summarise`): throughput, latencies, errors and those counts; `report`
  is its Markdown section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from scripts.loadkit.config import LoadConfig
from scripts.reportkit import machine_description, percentile, today

TAG = re.compile(r"\[ref ([A-Za-z0-9-]+)\]")  # an agent reply's tag, also its client_id
CHECK_READ = "read messages (final check)"
TURN = "turn (all customer posts)"
# The operations of the load, in the report's order (setting up and the final check are in the
# JSON only).
REPORTED = [
    "open conversation",
    "customer stream open",
    TURN,
    "turn: question",
    "turn: intent",
    "turn: handoff ask",
    "turn: to the agent",
    "turn: rating",
    "bot reply -> customer stream",
    "read messages",
    "handoff -> first agent reply",
    "read queue",
    "claim",
    "agent reply",
    "agent reply -> customer stream",
    "resolve",
]
# Totals of `account` that are fields of LoadResult; the others join its counters.
ACCOUNTED = (
    "lost",
    "duplicated",
    "undelivered",
    "delivered_twice",
    "seq_gaps",
    "unexpected",
    "unconfirmed",
    "customer messages",
    "agent messages",
    "bot replies",
    "unverified",
)


# --------------------------------------------------------------------------- measurements


@dataclass
class OperationStats:
    """Latency of one operation in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float


class Recorder:
    """Latencies, HTTP outcomes and counters shared by every simulated person."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {}
        self.errors: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.problems: list[str] = []

    def time(self, operation: str, seconds: float) -> None:
        """One timing of `operation`."""
        self.latencies.setdefault(operation, []).append(seconds)

    def problem(self, text: str) -> None:
        """A problem spelled out (the first 20 are kept)."""
        if len(self.problems) < 20:
            self.problems.append(text)

    def operations(self) -> dict[str, OperationStats]:
        """The percentiles of every timed operation, by name."""
        return {
            name: OperationStats(
                count=len(values),
                p50=percentile(values, 50) * 1000,
                p95=percentile(values, 95) * 1000,
                p99=percentile(values, 99) * 1000,
                max=max(values) * 1000,
            )
            for name, values in sorted(self.latencies.items())
            if values
        }


# --------------------------------------------------------------------------- the ledger


@dataclass
class Sent:
    """A message the driver posted, and whether the service acknowledged it."""

    text: str
    started: float
    acked: bool = False


@dataclass
class Conversation:
    """One customer's conversation and everything sent and received on it."""

    id: str
    token: str
    customer: dict[str, Sent] = field(default_factory=dict)  # client_id -> post
    agent: dict[str, Sent] = field(default_factory=dict)  # tag (also the client_id) -> post
    bot: dict[int, str] = field(default_factory=dict)  # seq -> text returned to the customer
    delivered: Counter[int] = field(default_factory=Counter)  # seq -> times on the stream
    checked_up_to: int = 0  # the last seq stored when the session checked its stream
    posts: int = 0

    @property
    def auth(self) -> dict[str, str]:
        """The customer's headers."""
        return {"Authorization": f"Bearer {self.token}"}

    def next_client_id(self) -> str:
        """The `client_id` of the customer's next post."""
        self.posts += 1
        return f"c{self.posts}"


async def account(
    conv: Conversation,
    stored: list[dict[str, Any]],
    totals: Counter[str],
    problem: Callable[[str], None],
    replay: Callable[[int], Awaitable[set[int]]],
) -> None:
    """Add to `totals` what the stored messages of `conv` show against its ledger (`problem`
    spells out each finding). A message stored after the customer stream closed counts as
    delivered when `replay(after)` (the seqs a fresh stream replays after `after`) has it."""
    by_client: Counter[str] = Counter()
    by_tag: Counter[str] = Counter()
    seqs = [int(m["seq"]) for m in stored]
    if seqs != list(range(1, len(seqs) + 1)):
        totals["seq_gaps"] += 1
        problem(f"{conv.id}: stored seqs are not 1..n: {seqs}")
    by_seq = {int(m["seq"]): m for m in stored}
    for message in stored:
        if message["author"] == "customer":
            client_id = message.get("client_id")
            if client_id in conv.customer:
                by_client[client_id] += 1
            else:
                totals["unexpected"] += 1
                problem(f"{conv.id}: customer message not sent by us: {message}")
        elif message["author"] == "agent":
            match = TAG.search(message["text"])
            if match and match.group(1) in conv.agent:
                by_tag[match.group(1)] += 1
            else:
                totals["unexpected"] += 1
                problem(f"{conv.id}: agent message not sent by us: {message}")
    for kind, sent_by_id, counts in (
        ("customer", conv.customer, by_client),
        ("agent", conv.agent, by_tag),
    ):
        for key, sent in sent_by_id.items():
            n = counts[key]
            if sent.acked:
                totals[f"{kind} messages"] += 1
            else:
                totals["unconfirmed"] += 1
            if n > 1:
                totals["duplicated"] += 1
                problem(f"{conv.id}: {kind} message {key} stored {n} times")
            elif n == 0 and sent.acked:
                totals["lost"] += 1
                problem(f"{conv.id}: {kind} message {key} acknowledged but not stored")
    for seq, text in conv.bot.items():
        totals["bot replies"] += 1
        message = by_seq.get(seq)
        if message is None or message["author"] != "bot" or message["text"] != text:
            totals["lost"] += 1
            problem(f"{conv.id}: bot reply seq {seq} returned but not stored as returned")
    totals["delivered_twice"] += sum(1 for n in conv.delivered.values() if n > 1)
    missing = [s for s in seqs if s not in conv.delivered]
    late = [s for s in missing if s > conv.checked_up_to]
    if late:  # stored after the stream closed: a reconnect must replay them
        replayed = await replay(min(late) - 1)
        totals["delivered on reconnect (stored after the stream closed)"] += sum(
            1 for s in late if s in replayed
        )
        missing = [s for s in missing if s not in replayed]
    if missing:
        totals["undelivered"] += len(missing)
        authors = Counter(by_seq[s]["author"] for s in missing)
        problem(f"{conv.id}: seqs {missing} never delivered on the stream ({dict(authors)})")


# --------------------------------------------------------------------------- the result


@dataclass
class LoadResult:
    """The outcome of a run: throughput, latencies, errors and the message accounting."""

    customers: int
    agents: int
    seconds: float  # from the first customer's start to the last customer's end
    turns: int
    turns_per_second: float
    conversations: int
    operations: dict[str, OperationStats]
    http_errors: dict[str, int]  # "operation status" or "operation ExceptionName" -> count
    claim_conflicts: int  # 409 on a claim race (expected)
    counters: dict[str, int]
    reply_kinds: dict[str, int]
    customer_messages: int  # acknowledged customer posts
    agent_messages: int  # acknowledged agent replies
    bot_replies: int
    lost: int
    duplicated: int
    undelivered: int
    delivered_twice: int
    seq_gaps: int
    unexpected: int
    unconfirmed: int  # posts whose outcome the client never learned (stored 0 or 1 times)
    unverified: int  # conversations that could not be read back
    problems: list[str] = field(default_factory=list)  # the first few, spelled out
    database: str | None = None
    driver_cpu_seconds: float = 0.0  # CPU this process used during the load
    # the service's resident memory (MiB) before the load and during it, when its pid is known
    service_rss_rest_mb: float | None = None
    service_rss_median_mb: float | None = None
    service_rss_peak_mb: float | None = None

    @property
    def server_errors(self) -> int:
        """HTTP 5xx answers."""
        return sum(n for key, n in self.http_errors.items() if key.split()[-1].startswith("5"))

    @property
    def ok(self) -> bool:
        """Nothing lost, duplicated, undelivered or out of sequence."""
        return not (
            self.lost
            or self.duplicated
            or self.undelivered
            or self.delivered_twice
            or self.seq_gaps
            or self.unexpected
            or self.unverified
        )

    def p99(self, operation: str) -> float:
        """The p99 of `operation` in milliseconds (NaN when it was never timed)."""
        stats = self.operations.get(operation)
        return stats.p99 if stats else float("nan")

    def to_json(self) -> dict[str, Any]:
        """Every field, with `ok` and `server_errors`."""
        return {**asdict(self), "ok": self.ok, "server_errors": self.server_errors}


def summarise(
    config: LoadConfig,
    recorder: Recorder,
    totals: dict[str, int],
    *,
    seconds: float,
    window: float,
    turns: int,
    conversations: int,
    database: str | None,
    driver_cpu: float,
) -> LoadResult:
    """The result of a run: `totals` from `account`, turns per second over `window` (from the
    first customer's start to the last acknowledged turn)."""
    extra = {k: v for k, v in totals.items() if k not in ACCOUNTED}
    counters = {**recorder.counters, **extra}
    return LoadResult(
        customers=config.customers,
        agents=config.agents,
        seconds=seconds,
        turns=turns,
        turns_per_second=turns / window if window > 0 else 0.0,
        conversations=conversations,
        operations=recorder.operations(),
        http_errors=dict(recorder.errors),
        claim_conflicts=recorder.counters["claims lost to another agent (409)"],
        counters=counters,
        reply_kinds=dict(recorder.kinds),
        customer_messages=totals.get("customer messages", 0),
        agent_messages=totals.get("agent messages", 0),
        bot_replies=totals.get("bot replies", 0),
        lost=totals.get("lost", 0),
        duplicated=totals.get("duplicated", 0),
        undelivered=totals.get("undelivered", 0),
        delivered_twice=totals.get("delivered_twice", 0),
        seq_gaps=totals.get("seq_gaps", 0),
        unexpected=totals.get("unexpected", 0),
        unconfirmed=totals.get("unconfirmed", 0),
        unverified=totals.get("unverified", 0),
        problems=recorder.problems,
        database=database,
        driver_cpu_seconds=driver_cpu,
    )


# --------------------------------------------------------------------------- the section


def fmt_ms(value: float) -> str:
    """Milliseconds for the table: "-" for NaN, whole from 100, else one decimal."""
    return "-" if math.isnan(value) else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def report(result: LoadResult, config: LoadConfig, command: str) -> str:
    """The Markdown section: what ran (`command`, as shown), then the figures."""
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(result.http_errors.items())) or "none"
    counters = result.counters
    lines = [
        "### Load test: customers and agents on one service",
        "",
        f"`{command}` on {machine_description()}, {today()}, "
        f"{result.database or 'database unknown'}, one service process on loopback, the "
        "driver on the same machine. "
        f"{config.customers} customers (mean think time {config.think_time:g} s, "
        f"{config.handoff_share:.0%} of tasks ask for a person, {config.intent_share:.0%} "
        f"run an intent), {config.agents} agents (up to {config.agent_capacity} "
        f"conversations each), {config.duration:g} s.",
        "",
        "| Figure | Value |",
        "|---|---|",
        f"| Customer turns | {result.turns:,} in {result.seconds:.0f} s: "
        f"**{result.turns_per_second:.1f} turns/s** |",
        f"| Conversations / handoffs / answered and resolved | {result.conversations:,} / "
        f"{counters.get('handoffs', 0)} / {counters.get('handoffs answered and resolved', 0)} |",
        f"| Messages sent and acknowledged: customer / agent; bot replies | "
        f"{result.customer_messages:,} / {result.agent_messages:,}; {result.bot_replies:,} |",
        f"| Lost / duplicated / undelivered on the stream | **{result.lost} / "
        f"{result.duplicated} / {result.undelivered}** |",
        f"| Delivered twice / seq gaps / unexpected messages / unread conversations | "
        f"{result.delivered_twice} / {result.seq_gaps} / {result.unexpected} / "
        f"{result.unverified} |",
        f"| Claims won / lost to another agent (409, expected) | "
        f"{counters.get('claims won', 0)} / {result.claim_conflicts} |",
        f"| HTTP and stream errors | {errors} |",
        f"| CPU used by the driver itself | {result.driver_cpu_seconds:.0f} s "
        f"({result.driver_cpu_seconds / max(result.seconds, 1e-9):.0%} of a core) |",
        *(
            [
                f"| Service resident memory: at rest / median under load / peak | "
                f"{result.service_rss_rest_mb:,.0f} / {result.service_rss_median_mb:,.0f} / "
                f"{result.service_rss_peak_mb:,.0f} MiB |"
            ]
            if result.service_rss_rest_mb is not None
            and result.service_rss_median_mb is not None
            and result.service_rss_peak_mb is not None
            else []
        ),
        "",
        "| operation | count | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in REPORTED:
        stats = result.operations.get(name)
        if stats is None:
            continue
        lines.append(
            f"| {name} | {stats.count:,} | {fmt_ms(stats.p50)} | {fmt_ms(stats.p95)} | "
            f"{fmt_ms(stats.p99)} | {fmt_ms(stats.max)} |"
        )
    shown = {
        "handoffs",
        "handoffs answered and resolved",
        "claims won",
        "claims lost to another agent (409)",
    }
    others = {k: v for k, v in sorted(counters.items()) if k not in shown and v}
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(result.reply_kinds.items()))
    lines += ["", f"Bot replies by kind: {kinds}."]
    if others:
        lines.append("Other counts: " + ", ".join(f"{k} {v}" for k, v in others.items()) + ".")
    return "\n".join(lines)
