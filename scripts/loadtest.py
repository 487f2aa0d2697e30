"""Load test: simulated customers and agents against a running service on loopback.

An asyncio driver (httpx for HTTP, `websockets` for the live streams) that plays both sides of
the chat and checks that nothing is lost:

- **Customers** (`--customers` at once, each one conversation after another): open a
  conversation (POST /api/v1/conversations), follow it on its customer stream (WebSocket,
  authenticated by a first `auth` frame, as the widget does), and run one to four tasks with
  pauses (`--think-time`, the mean of an exponential pause): a knowledge-base question (the
  `questions` of the articles in `knowledge_base/`), an intent with slots (order status then an
  order number, a password reset then an email address, a refund or cancellation declined at the
  confirmation) or, for a share of them (`--handoff-share`), a request for a person. After a
  handoff the customer waits on the stream for the agent's reply, answers, waits for the second
  reply and the resolution, and rates the conversation ("5"). Every post carries a `client_id`
  and is retried with the same id after a transport error or a 503.
- **Agents** (`--agents`, accounts created through POST /api/v1/admin/users and deactivated at
  the end): sign in, set themselves online, listen on /api/v1/agent/stream for queue events
  (and read GET /api/v1/agent/queue every `--queue-poll` seconds in case they were busy), claim
  (racing each other: a 409 is the expected answer for the losers, counted apart from errors),
  reply, wait for the customer's answer, reply again and resolve; up to `--agent-capacity`
  conversations each at once.

Bounded in time (`--duration`: no task starts after it; what is under way gets `--drain`
seconds more, then is cut off) and in count (no task starts once `--max-turns` customer
messages were posted). Afterwards every conversation is read back with its customer token
(GET .../messages?after=0) and checked:

- **lost**: a customer message acknowledged (201, or 200 on a retry) but not stored, an agent
  reply acknowledged but not stored, a bot reply returned to the customer but not stored;
- **duplicated**: a customer `client_id` or an agent reply stored more than once;
- **undelivered**: a stored message of the conversation (customer, bot, agent or system) that
  its customer stream never delivered (a message stored after the stream closed is checked by
  reconnecting with `?after=`, as the widget does);
- gaps in the conversation's `seq` and unexpected customer messages.

It reports customer turns per second, p50/p95/p99/max per operation (customer turn, by kind;
bot reply and agent reply to the customer's stream; claim; agent reply; resolve; waiting for an
agent), HTTP errors by operation and status, and the counts above. The exit status is 1 when
anything was lost, duplicated or undelivered (2 when only `--max-p99-ms` was exceeded).

Run from the repo root, against a service already running (its first admin creates the agents;
`--admin-email/--admin-password` default to SWITCHBOARD_ADMIN_EMAIL/PASSWORD, and a password
given on the command line is masked in the report):

    SWITCHBOARD_ADMIN_EMAIL=admin@example.com SWITCHBOARD_ADMIN_PASSWORD='change me now' \
        .venv/bin/python scripts/loadtest.py --url http://127.0.0.1:8000 --customers 16 \
        --agents 4 --duration 60

or let it start one (fresh data folder, its own demo orders service and first admin):
`.venv/bin/python scripts/loadtest.py --start --duration 300 [--json out.json] [--write]`;
`--write` updates the generated section of docs/BENCHMARKS.md. The driver shares the machine
with the service when both run on it; the figures include that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.reportkit import command_line, machine_description, write_doc_section  # noqa: E402
from scripts.servicekit import (  # noqa: E402
    free_port,
    prepare_data_dir,
    start_orders_api,
    start_server,
    stop_server,
)

DOC = REPO_ROOT / "docs" / "BENCHMARKS.md"
SECTION = "loadtest"
KB_DIR = REPO_ROOT / "knowledge_base"

HANDOFF_ASKS = [
    "I want to talk to a person",
    "agent please",
    "can I talk to someone from your team",
    "get me a human",
    "I want to speak to a real person",
]
FOLLOW_UPS = [
    "my parcel never arrived and the tracking hasn't moved for a week",
    "I was charged twice for the same order",
    "the zipper on my backpack broke after two days",
]
# Intent flows: the opening message, then the answers to the bot's questions in order (an
# answer is sent only while the bot still asks). Refunds and cancellations are declined at the
# confirmation, so the demo orders service's data is never changed.
INTENT_FLOWS: list[list[str]] = [
    ["where is my order?", "it's LS-10041"],
    ["has my order shipped yet", "LS-10043"],
    ["can you check on order LS-10049"],
    ["I forgot my password", "sam@example.com"],
    ["reset my password", "jo.smith@example.org"],
    ["I want a refund", "LS-10042", "no"],
    ["cancel my order", "LS-10046", "no"],
]
RATING = "5"
TAG = re.compile(r"\[ref ([A-Za-z0-9-]+)\]")
RETRIES = 4
STREAM_OPEN_SECONDS = 15.0
SETTLE_SECONDS = 10.0
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


# --------------------------------------------------------------------------- configuration


@dataclass
class LoadConfig:
    """What to run: against `base_url`, with these many simulated people, this long."""

    base_url: str
    admin_email: str | None = None
    admin_password: str | None = None
    customers: int = 16
    agents: int = 4
    duration: float = 60.0
    max_turns: int = 0  # no task starts after this many customer posts (0: no bound)
    think_time: float = 1.0  # mean pause between a customer's messages (exponential)
    agent_think_time: float = 0.5  # mean pause before an agent's reply or resolve
    handoff_share: float = 0.1  # of tasks: ask for a person
    intent_share: float = 0.3  # of tasks: an intent flow (the rest: KB questions)
    handoff_timeout: float = 30.0  # how long a customer waits for an agent
    agent_capacity: int = 3  # conversations an agent works at once
    queue_poll: float = 2.0  # seconds between an agent's reads of the queue
    drain: float = 30.0  # seconds after `duration` for what is under way
    seed: int = 1
    kb_dir: Path = KB_DIR


def kb_questions(kb_dir: Path) -> list[str]:
    """The `questions` of every article's front matter in `kb_dir`."""
    questions: list[str] = []
    for path in sorted(kb_dir.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        if not text.startswith("---"):
            continue
        front = yaml.safe_load(text.split("---", 2)[1]) or {}
        questions.extend(str(q) for q in front.get("questions") or [])
    if not questions:
        raise SystemExit(f"no article questions found in {kb_dir}")
    return questions


# --------------------------------------------------------------------------- measurements


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (linear interpolation), in the unit of `values`."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class OperationStats:
    """Latency of one operation in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float


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
        stats = self.operations.get(operation)
        return stats.p99 if stats else float("nan")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "server_errors": self.server_errors}


class Recorder:
    """Latencies, HTTP outcomes and counters shared by every simulated person."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {}
        self.errors: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.problems: list[str] = []

    def time(self, operation: str, seconds: float) -> None:
        self.latencies.setdefault(operation, []).append(seconds)

    def problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)

    def operations(self) -> dict[str, OperationStats]:
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


class Api:
    """HTTP calls that time themselves and record every unexpected outcome."""

    def __init__(self, client: httpx.AsyncClient, recorder: Recorder) -> None:
        self.client = client
        self.recorder = recorder

    async def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        expect: Iterable[int] = (200, 201),
        retry: bool = False,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """The response with an expected status, else None (errors recorded). With `retry`,
        transport errors and 503 are retried (the body must be idempotent: a `client_id`)."""
        expected = set(expect)
        attempts = RETRIES if retry else 1
        for attempt in range(attempts):
            started = time.perf_counter()
            try:
                response = await self.client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                self.recorder.errors[f"{operation} {type(exc).__name__}"] += 1
                if attempt + 1 < attempts:
                    await asyncio.sleep(0.2 * 2**attempt)
                continue
            self.recorder.time(operation, time.perf_counter() - started)
            if response.status_code in expected:
                if response.headers.get("Idempotent-Replayed"):
                    self.recorder.counters["idempotent replays"] += 1
                return response
            self.recorder.errors[f"{operation} {response.status_code}"] += 1
            self.recorder.problem(f"{operation}: {response.status_code} {response.text[:200]}")
            if retry and response.status_code == 503 and attempt + 1 < attempts:
                wait = float(response.headers.get("Retry-After") or 0.2 * 2**attempt)
                await asyncio.sleep(min(wait, 2.0))
                continue
            return None
        return None


# --------------------------------------------------------------------------- conversations


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
        return {"Authorization": f"Bearer {self.token}"}

    def next_client_id(self) -> str:
        self.posts += 1
        return f"c{self.posts}"


class CustomerStream:
    """A customer's WebSocket: records every message event by seq and wakes waiters; on an
    unexpected close it reconnects with `?after=<last seq>`, as the widget does."""

    def __init__(self, ws_base: str, conversation: Conversation, recorder: Recorder) -> None:
        self.url = f"{ws_base}/api/v1/conversations/{conversation.id}/stream"
        self.conversation = conversation
        self.recorder = recorder
        self.last_seq = 0
        self.arrived: dict[int, float] = {}
        self.waiting_bot: dict[int, float] = {}  # reply seq -> when its turn was posted
        self.agent_texts = 0
        self.statuses: list[str] = []
        self.changed = asyncio.Condition()
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.closing = False

    async def open(self) -> None:
        started = time.perf_counter()
        await self._connect()
        self.recorder.time("customer stream open", time.perf_counter() - started)
        self.reader = asyncio.create_task(self._read())

    async def _connect(self) -> None:
        ws = await connect(f"{self.url}?after={self.last_seq}", open_timeout=STREAM_OPEN_SECONDS)
        try:
            await ws.send(json.dumps({"type": "auth", "token": self.conversation.token}))
            async with asyncio.timeout(STREAM_OPEN_SECONDS):
                while True:
                    event = json.loads(await ws.recv())
                    if event["type"] == "ready":
                        break
                    await self._handle(event)
        except BaseException:
            await ws.close()
            raise
        self.ws = ws

    async def _read(self) -> None:
        while not self.closing:
            assert self.ws is not None
            try:
                event = json.loads(await self.ws.recv())
            except ConnectionClosed:
                if self.closing:
                    return
                self.recorder.counters["customer stream reconnects"] += 1
                await self._reconnect()
                continue
            await self._handle(event)

    async def _reconnect(self) -> None:
        for attempt in range(RETRIES):
            try:
                await self._connect()
                return
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
                self.recorder.errors[f"customer stream {type(exc).__name__}"] += 1
                await asyncio.sleep(0.2 * 2**attempt)
        raise RuntimeError(f"customer stream of {self.conversation.id} could not reconnect")

    async def _handle(self, event: dict[str, Any]) -> None:
        now = time.perf_counter()
        if event["type"] == "message":
            seq = int(event["seq"])
            self.conversation.delivered[seq] += 1
            self.last_seq = max(self.last_seq, seq)
            self.arrived.setdefault(seq, now)
            message = event["message"]
            if message["author"] == "bot" and seq in self.waiting_bot:
                self.recorder.time("bot reply -> customer stream", now - self.waiting_bot.pop(seq))
            elif message["author"] == "agent":
                self.agent_texts += 1
                match = TAG.search(message["text"])
                sent = self.conversation.agent.get(match.group(1)) if match else None
                if sent is not None:
                    self.recorder.time("agent reply -> customer stream", now - sent.started)
        elif event["type"] == "status":
            self.statuses.append(str(event["status"]))
        async with self.changed:
            self.changed.notify_all()

    def expect_bot(self, seq: int, posted: float) -> None:
        """Time the bot reply `seq` to the stream from `posted` (now, if it already came)."""
        if seq in self.arrived:
            self.recorder.time("bot reply -> customer stream", self.arrived[seq] - posted)
        else:
            self.waiting_bot[seq] = posted

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        try:
            async with self.changed:
                await asyncio.wait_for(self.changed.wait_for(condition), timeout)
            return True
        except TimeoutError:
            return condition()

    async def close(self) -> None:
        self.closing = True
        if self.reader is not None:
            if self.reader.done() and not self.reader.cancelled() and self.reader.exception():
                self.recorder.errors["customer stream lost"] += 1
                self.recorder.problem(f"{self.conversation.id}: {self.reader.exception()!r}")
            self.reader.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self.reader
        if self.ws is not None:
            with suppress(Exception):
                await self.ws.close()


async def stored_messages(
    api: Api, conversation: Conversation, operation: str = "read messages"
) -> list[dict[str, Any]] | None:
    """Every stored message of the conversation, read with its customer token."""
    messages: list[dict[str, Any]] = []
    after = 0
    while True:
        response = await api.call(
            operation,
            "GET",
            f"/api/v1/conversations/{conversation.id}/messages",
            params={"after": after, "limit": 500},
            headers=conversation.auth,
        )
        if response is None:
            return None
        page = response.json()
        messages.extend(page["messages"])
        if not page["has_more"] or not page["messages"]:
            return messages
        after = page["messages"][-1]["seq"]


# --------------------------------------------------------------------------- the run


class LoadTest:
    """One run: customers and agents sharing a recorder and the conversations they made."""

    def __init__(self, config: LoadConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.recorder = Recorder()
        self.api = Api(client, self.recorder)
        self.ws_base = "ws" + config.base_url.rstrip("/").removeprefix("http")
        self.questions = kb_questions(config.kb_dir)
        self.conversations: dict[str, Conversation] = {}
        self.turns = 0  # acknowledged customer posts
        self.posted = 0  # customer posts started
        self.started = 0.0
        self.deadline = 0.0
        self.last_turn = 0.0
        self.run_id = secrets.token_hex(3)
        self.admin: dict[str, str] = {}

    # ---- bounds

    def may_start_task(self) -> bool:
        if time.perf_counter() >= self.deadline:
            return False
        return not (self.config.max_turns and self.posted >= self.config.max_turns)

    async def think(self, rng: random.Random, mean: float) -> None:
        if mean > 0:
            await asyncio.sleep(min(rng.expovariate(1.0 / mean), 10 * mean))

    # ---- customers

    async def customer(self, number: int) -> None:
        rng = random.Random(self.config.seed * 100_003 + number)
        await asyncio.sleep(rng.uniform(0, max(self.config.think_time, 0.05)))
        while self.may_start_task():
            await self.session(rng)

    async def session(self, rng: random.Random) -> None:
        """One conversation: open it and its stream, run a few tasks, check the stream."""
        opened = await self.api.call("open conversation", "POST", "/api/v1/conversations")
        if opened is None:
            await asyncio.sleep(1.0)
            return
        body = opened.json()
        conversation = Conversation(id=body["id"], token=body["token"])
        self.conversations[conversation.id] = conversation
        stream = CustomerStream(self.ws_base, conversation, self.recorder)
        try:
            await stream.open()
        except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
            self.recorder.errors[f"customer stream {type(exc).__name__}"] += 1
            return
        try:
            for index in range(rng.randint(1, 4)):
                if not self.may_start_task():
                    break
                if index:
                    await self.think(rng, self.config.think_time)
                if await self.task(rng, conversation, stream):
                    break  # a person took over: the conversation ends with them
            await self.settle(conversation, stream)
        finally:
            await stream.close()

    async def task(self, rng: random.Random, conv: Conversation, stream: CustomerStream) -> bool:
        """Run one task; True if it ended in a handoff (then handled to the end)."""
        draw = rng.random()
        if self.config.agents and draw < self.config.handoff_share:
            reply = await self.say(conv, stream, rng.choice(HANDOFF_ASKS), "handoff ask")
        elif draw < self.config.handoff_share + self.config.intent_share:
            flow = rng.choice(INTENT_FLOWS)
            reply = await self.say(conv, stream, flow[0], "intent")
            for answer in flow[1:]:
                if reply is None or reply["kind"] != "ask":
                    break
                await self.think(rng, self.config.think_time)
                reply = await self.say(conv, stream, answer, "intent")
        else:
            reply = await self.say(conv, stream, rng.choice(self.questions), "question")
        if reply is None or reply["kind"] != "handoff":
            return False
        if self.config.agents:
            await self.with_agent(rng, conv, stream)
        else:
            self.recorder.counters["handoffs with no agents in the run"] += 1
        return True

    async def say(
        self, conv: Conversation, stream: CustomerStream, text: str, kind: str
    ) -> dict[str, Any] | None:
        """Post a customer message; the bot's reply (None if none or the post failed)."""
        client_id = conv.next_client_id()
        self.posted += 1
        sent = conv.customer[client_id] = Sent(text, time.perf_counter())
        response = await self.api.call(
            f"turn: {kind}",
            "POST",
            f"/api/v1/conversations/{conv.id}/messages",
            json={"text": text, "client_id": client_id},
            headers=conv.auth,
            retry=True,
        )
        if response is None:
            return None
        now = time.perf_counter()
        sent.acked = True
        self.turns += 1
        self.last_turn = now
        self.recorder.time(TURN, now - sent.started)
        reply: dict[str, Any] | None = response.json()["reply"]
        kind_seen = reply["kind"] if reply else "none (a person owns it)"
        if reply and reply.get("handoff_reason"):
            kind_seen = f"{kind_seen} ({reply['handoff_reason']})"
        self.recorder.kinds[kind_seen] += 1
        if reply is not None:
            conv.bot[int(reply["seq"])] = reply["text"]
            stream.expect_bot(int(reply["seq"]), sent.started)
        return reply

    async def with_agent(
        self, rng: random.Random, conv: Conversation, stream: CustomerStream
    ) -> None:
        """After a handoff: wait for the agent, answer, wait for the reply and the
        resolution, rate."""
        self.recorder.counters["handoffs"] += 1
        waited = time.perf_counter()
        timeout = self.config.handoff_timeout
        if not await stream.wait_until(lambda: stream.agent_texts >= 1, timeout):
            self.recorder.counters["handoffs unanswered (customer gave up)"] += 1
            return
        self.recorder.time("handoff -> first agent reply", time.perf_counter() - waited)
        await self.think(rng, self.config.think_time)
        await self.say(conv, stream, rng.choice(FOLLOW_UPS), "to the agent")
        if not await stream.wait_until(lambda: stream.agent_texts >= 2, timeout):
            self.recorder.counters["handoffs: agent's second reply missing"] += 1
            return
        if not await stream.wait_until(lambda: "resolved" in stream.statuses, timeout):
            self.recorder.counters["handoffs: not resolved"] += 1
            return
        self.recorder.counters["handoffs answered and resolved"] += 1
        await self.think(rng, self.config.think_time)
        await self.say(conv, stream, RATING, "rating")

    async def settle(self, conv: Conversation, stream: CustomerStream) -> None:
        """At the session's end: the stream must deliver everything stored so far."""
        stored = await stored_messages(self.api, conv)
        if stored is None:
            return
        seqs = {int(m["seq"]) for m in stored}
        await stream.wait_until(lambda: seqs <= set(conv.delivered), SETTLE_SECONDS)
        conv.checked_up_to = max(seqs, default=0)

    # ---- agents

    async def make_agents(self) -> list[Agent]:
        config = self.config
        if not config.agents:
            return []
        if not (config.admin_email and config.admin_password):
            raise SystemExit(
                "agents need an admin: --admin-email/--admin-password "
                "(or SWITCHBOARD_ADMIN_EMAIL/PASSWORD), or --agents 0"
            )
        admin = await self.login(config.admin_email, config.admin_password)
        agents = []
        for index in range(config.agents):
            email = f"loadtest-{self.run_id}-agent{index}@example.com"
            password = secrets.token_urlsafe(16)
            created = await self.api.call(
                "create agent",
                "POST",
                "/api/v1/admin/users",
                json={
                    "email": email,
                    "password": password,
                    "name": f"Agent {index}",
                    "role": "agent",
                },
                headers=admin,
            )
            if created is None:
                raise SystemExit(f"could not create agent {email}: {self.recorder.problems[-1:]}")
            headers = await self.login(email, password)
            agents.append(Agent(self, index, int(created.json()["id"]), headers))
        self.admin = admin
        return agents

    async def login(self, email: str, password: str) -> dict[str, str]:
        response = await self.api.call(
            "login", "POST", "/api/v1/auth/login", json={"email": email, "password": password}
        )
        if response is None:
            raise SystemExit(f"could not sign in as {email}: {self.recorder.problems[-1:]}")
        return {"Authorization": f"Bearer {response.json()['token']}"}

    async def retire(self, agents: list[Agent]) -> None:
        """Deactivate the run's agent accounts (their passwords die with the run)."""
        for agent in agents:
            await self.api.call(
                "deactivate agent",
                "POST",
                f"/api/v1/admin/users/{agent.user_id}/deactivate",
                headers=self.admin,
            )

    # ---- accounting

    async def verify(self) -> dict[str, int]:
        """Read every conversation back and count what was lost, duplicated, undelivered."""
        totals: Counter[str] = Counter()
        gate = asyncio.Semaphore(8)

        async def one(conv: Conversation) -> None:
            async with gate:
                stored = await stored_messages(self.api, conv, CHECK_READ)
                if stored is None:
                    totals["unverified"] += 1
                    return
                await self.account(conv, stored, totals)

        await asyncio.gather(*(one(c) for c in list(self.conversations.values())))
        return dict(totals)

    async def account(
        self, conv: Conversation, stored: list[dict[str, Any]], totals: Counter[str]
    ) -> None:
        problem = self.recorder.problem
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
            replayed = await self.replay(conv, after=min(late) - 1)
            totals["delivered on reconnect (stored after the stream closed)"] += sum(
                1 for s in late if s in replayed
            )
            missing = [s for s in missing if s not in replayed]
        if missing:
            totals["undelivered"] += len(missing)
            authors = Counter(by_seq[s]["author"] for s in missing)
            problem(f"{conv.id}: seqs {missing} never delivered on the stream ({dict(authors)})")

    async def replay(self, conv: Conversation, *, after: int) -> set[int]:
        """The seqs a fresh customer stream replays after `after`."""
        url = f"{self.ws_base}/api/v1/conversations/{conv.id}/stream?after={after}"
        seqs: set[int] = set()
        try:
            async with connect(url, open_timeout=STREAM_OPEN_SECONDS) as ws:
                await ws.send(json.dumps({"type": "auth", "token": conv.token}))
                async with asyncio.timeout(STREAM_OPEN_SECONDS):
                    while (event := json.loads(await ws.recv()))["type"] != "ready":
                        if event["type"] == "message":
                            seqs.add(int(event["seq"]))
        except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
            self.recorder.errors[f"replay stream {type(exc).__name__}"] += 1
        return seqs

    # ---- everything

    async def run(self) -> LoadResult:
        config = self.config
        ready = await self.api.call("readyz", "GET", "/readyz")
        if ready is None:
            raise SystemExit(f"{config.base_url} is not ready: {self.recorder.problems[-1:]}")
        database = ready.json().get("database")
        agents = await self.make_agents()
        agent_tasks = [asyncio.create_task(agent.run()) for agent in agents]
        with suppress(TimeoutError):  # customers start once the agents are online
            async with asyncio.timeout(STREAM_OPEN_SECONDS):
                await asyncio.gather(*(agent.online.wait() for agent in agents))
        offline = sum(1 for agent in agents if not agent.online.is_set())
        if offline:
            self.recorder.counters["agents not online at the start"] += offline
        self.started = time.perf_counter()
        cpu_started = time.process_time()
        self.deadline = self.started + config.duration
        customer_tasks = [asyncio.create_task(self.customer(n)) for n in range(config.customers)]
        try:
            _, pending = await asyncio.wait(customer_tasks, timeout=config.duration + config.drain)
            for task in pending:
                task.cancel()
            self.recorder.counters["customer sessions cut off after the drain"] += len(pending)
            results = await asyncio.gather(*customer_tasks, return_exceptions=True)
            for outcome in results:
                if isinstance(outcome, BaseException) and not isinstance(
                    outcome, asyncio.CancelledError
                ):
                    self.recorder.errors[f"customer crashed {type(outcome).__name__}"] += 1
                    self.recorder.problem(f"customer crashed: {outcome!r}")
            ended = time.perf_counter()
            driver_cpu = time.process_time() - cpu_started
        finally:
            for task in agent_tasks:
                task.cancel()
            outcomes = await asyncio.gather(*agent_tasks, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                self.recorder.errors[f"agent crashed {type(outcome).__name__}"] += 1
                self.recorder.problem(f"agent crashed: {outcome!r}")
        totals = await self.verify()
        if agents:
            await self.retire(agents)
        seconds = ended - self.started
        window = (self.last_turn or ended) - self.started
        extra = {
            k: v
            for k, v in totals.items()
            if k not in ("lost", "duplicated", "undelivered", "delivered_twice", "seq_gaps")
            and k not in ("unexpected", "unconfirmed", "customer messages", "agent messages")
            and k not in ("bot replies", "unverified")
        }
        counters = {**self.recorder.counters, **extra}
        return LoadResult(
            customers=config.customers,
            agents=config.agents,
            seconds=seconds,
            turns=self.turns,
            turns_per_second=self.turns / window if window > 0 else 0.0,
            conversations=len(self.conversations),
            operations=self.recorder.operations(),
            http_errors=dict(self.recorder.errors),
            claim_conflicts=self.recorder.counters["claims lost to another agent (409)"],
            counters=counters,
            reply_kinds=dict(self.recorder.kinds),
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
            problems=self.recorder.problems,
            database=database,
            driver_cpu_seconds=driver_cpu,
        )


class Agent:
    """A simulated agent: listens to the staff stream, claims, replies, resolves."""

    def __init__(self, test: LoadTest, index: int, user_id: int, headers: dict[str, str]) -> None:
        self.test = test
        self.index = index
        self.user_id = user_id
        self.headers = headers
        self.rng = random.Random(test.config.seed * 7919 + index)
        self.queued: set[str] = set()  # our conversations the queue shows
        self.claiming: set[str] = set()
        self.working: dict[str, asyncio.Queue[dict[str, Any]]] = {}  # conversation -> its inbox
        self.tasks: set[asyncio.Task[None]] = set()
        self.replies = 0
        self.online = asyncio.Event()

    @property
    def busy(self) -> int:
        return len(self.claiming) + len(self.working)

    def spawn(self, job: Any) -> None:
        task = asyncio.create_task(job)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.test.recorder.errors[f"agent job crashed {type(exc).__name__}"] += 1
            self.test.recorder.problem(f"agent {self.index} job crashed: {exc!r}")

    async def run(self) -> None:
        """Follow the staff stream (reconnecting if it closes) until cancelled."""
        recorder = self.test.recorder
        url = f"{self.test.ws_base}/api/v1/agent/stream"
        token = self.headers["Authorization"].removeprefix("Bearer ")
        poller: asyncio.Task[None] | None = None
        try:
            while True:
                try:
                    async with connect(url, open_timeout=STREAM_OPEN_SECONDS, max_queue=None) as ws:
                        await ws.send(json.dumps({"type": "auth", "token": token}))
                        while json.loads(await ws.recv())["type"] != "hello":
                            pass
                        if poller is None:
                            await self.test.api.call(
                                "presence online",
                                "PUT",
                                "/api/v1/agent/presence",
                                json={"status": "online"},
                                headers=self.headers,
                            )
                            poller = asyncio.create_task(self.poll())
                            self.online.set()
                        async for frame in ws:
                            self.on_event(json.loads(frame))
                except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
                    recorder.errors[f"agent stream {type(exc).__name__}"] += 1
                recorder.counters["agent stream reconnects"] += 1
                await asyncio.sleep(0.2)
        finally:
            if poller is not None:
                poller.cancel()
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

    def on_event(self, event: dict[str, Any]) -> None:
        conversation_id = event.get("conversation_id")
        if conversation_id not in self.test.conversations:
            return  # not this run's
        kind = event["type"]
        if kind == "queue":
            if event["status"] == "queued" and event["action"] in ("added", "updated"):
                self.queued.add(conversation_id)
                self.claim_some()
            else:
                self.queued.discard(conversation_id)
        elif kind == "assigned" and conversation_id not in self.working:
            # auto-assignment, when the service has it on
            self.queued.discard(conversation_id)
            if conversation_id not in self.claiming:
                self.start_work(conversation_id)
        elif (
            kind == "message"
            and conversation_id in self.working
            and event["message"]["author"] == "customer"
        ):
            self.working[conversation_id].put_nowait(event)

    async def poll(self) -> None:
        while True:
            await asyncio.sleep(self.test.config.queue_poll * self.rng.uniform(0.75, 1.25))
            response = await self.test.api.call(
                "read queue", "GET", "/api/v1/agent/queue", headers=self.headers
            )
            if response is not None:
                self.queued = {
                    item["conversation_id"]
                    for item in response.json()["items"]
                    if item["conversation_id"] in self.test.conversations
                }
                self.claim_some()

    def claim_some(self) -> None:
        candidates = [c for c in self.queued if c not in self.claiming and c not in self.working]
        self.rng.shuffle(candidates)
        for conversation_id in candidates:
            if self.busy >= self.test.config.agent_capacity:
                return
            self.claiming.add(conversation_id)
            self.spawn(self.claim(conversation_id))

    async def claim(self, conversation_id: str) -> None:
        recorder = self.test.recorder
        try:
            await asyncio.sleep(self.rng.uniform(0, 0.2))  # a person's reaction
            if conversation_id not in self.queued:
                return  # someone else took it meanwhile
            response = await self.test.api.call(
                "claim",
                "POST",
                f"/api/v1/agent/conversations/{conversation_id}/claim",
                headers=self.headers,
                expect=(200, 409),
            )
            self.queued.discard(conversation_id)
            if response is None:
                return
            if response.status_code == 409:
                recorder.counters["claims lost to another agent (409)"] += 1
                return
            recorder.counters["claims won"] += 1
            self.start_work(conversation_id)
        finally:
            self.claiming.discard(conversation_id)

    def start_work(self, conversation_id: str) -> None:
        self.working[conversation_id] = asyncio.Queue()
        self.spawn(self.work(conversation_id))

    async def work(self, conversation_id: str) -> None:
        """Greet, wait for the customer's answer, reply, resolve."""
        config = self.test.config
        inbox = self.working[conversation_id]
        try:
            await self.test.think(self.rng, config.agent_think_time)
            if not await self.reply(conversation_id, "Hi, I'm Agent {n}. I'm looking into it."):
                return
            try:
                await asyncio.wait_for(inbox.get(), config.handoff_timeout)
            except TimeoutError:
                self.test.recorder.counters["agent: customer never answered"] += 1
            await self.test.think(self.rng, config.agent_think_time)
            if not await self.reply(
                conversation_id, "Thanks, Agent {n} here again: I've sorted that out for you."
            ):
                return
            await self.test.think(self.rng, config.agent_think_time)
            resolved = await self.test.api.call(
                "resolve",
                "POST",
                f"/api/v1/agent/conversations/{conversation_id}/resolve",
                headers=self.headers,
            )
            if resolved is not None:
                self.test.recorder.counters["resolved by agents"] += 1
        finally:
            del self.working[conversation_id]
            self.claim_some()

    async def reply(self, conversation_id: str, template: str) -> bool:
        self.replies += 1
        tag = f"a{self.index}-{self.replies}"
        text = f"{template.format(n=self.index)} [ref {tag}]"
        conv = self.test.conversations[conversation_id]
        sent = conv.agent[tag] = Sent(text, time.perf_counter())
        response = await self.test.api.call(
            "agent reply",
            "POST",
            f"/api/v1/agent/conversations/{conversation_id}/messages",
            json={"text": text, "client_id": tag},
            headers=self.headers,
            retry=True,
        )
        if response is None:
            return False
        sent.acked = True
        return True


def resident_mb(pid: int) -> float | None:
    """The process's resident memory (VmRSS) in MiB, or None when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


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


async def run_load(config: LoadConfig) -> LoadResult:
    """Run the load test described by `config` against the service at `config.base_url`."""
    connections = config.customers + 3 * config.agents + 8
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them, else a
    # request sent just as the server closes its end fails with ReadError (a client artefact).
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(base_url=config.base_url, timeout=30, limits=limits) as client:
        return await LoadTest(config, client).run()


# --------------------------------------------------------------------------- report


def fmt_ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def shown_command() -> str:
    """The command line as typed, with the admin password masked."""
    argv = sys.argv
    masked: list[str] = []
    for i, arg in enumerate(argv):
        if i and argv[i - 1] == "--admin-password":
            masked.append("***")
        elif arg.startswith("--admin-password="):
            masked.append("--admin-password=***")
        else:
            masked.append(arg)
    sys.argv = masked
    try:
        return command_line()
    finally:
        sys.argv = argv


def report(result: LoadResult, config: LoadConfig) -> str:
    """The Markdown section: what ran, then the figures."""
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(result.http_errors.items())) or "none"
    counters = result.counters
    lines = [
        "### Load test: customers and agents on one service",
        "",
        f"`{shown_command()}` on {machine_description()}, {datetime.now(UTC):%Y-%m-%d}, "
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


# --------------------------------------------------------------------------- command line


async def run_with_server(args: argparse.Namespace, config: LoadConfig) -> LoadResult:
    """Start a service with a fresh data folder (and its own demo orders service) if asked,
    then run."""
    if not args.start:
        return await run_load_watching(config, args.service_pid)
    admin_email = config.admin_email or "loadtest-admin@example.com"
    admin_password = config.admin_password or secrets.token_urlsafe(16)
    config.admin_email, config.admin_password = admin_email, admin_password
    orders_token = secrets.token_urlsafe(16)
    orders_port = free_port()
    orders = start_orders_api(orders_port, token=orders_token)
    try:
        integrations = {
            "orders": {
                "base_url": f"http://127.0.0.1:{orders_port}",
                "headers": {"Authorization": f"Bearer {orders_token}"},
            }
        }
        env = {
            "SWITCHBOARD_ADMIN_EMAIL": admin_email,
            "SWITCHBOARD_ADMIN_PASSWORD": admin_password,
            "SWITCHBOARD_INTEGRATIONS": json.dumps(integrations),
            "SWITCHBOARD_LOG_LEVEL": args.log_level,
        }
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            prepare_data_dir(Path(tmp) / "data", env)
            process, seconds, _ = start_server(Path(tmp) / "data", port, env_overrides=env)
            print(f"service ready on port {port} in {seconds:.0f} s", file=sys.stderr)
            try:
                config.base_url = f"http://127.0.0.1:{port}"
                return await run_load_watching(config, process.pid)
            finally:
                stop_server(process)
    finally:
        stop_server(orders)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running service, e.g. http://127.0.0.1:8000")
    where.add_argument("--start", action="store_true", help="start a service with fresh data")
    parser.add_argument(
        "--service-pid", type=int, default=None, help="with --url: report this process's memory"
    )
    parser.add_argument("--admin-email", default=os.environ.get("SWITCHBOARD_ADMIN_EMAIL"))
    parser.add_argument("--admin-password", default=os.environ.get("SWITCHBOARD_ADMIN_PASSWORD"))
    parser.add_argument("--customers", type=int, default=16, help="customers at once")
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument(
        "--max-turns", type=int, default=0, help="no new task after N customer posts (0: none)"
    )
    parser.add_argument("--think-time", type=float, default=1.0, help="customers' mean pause, s")
    parser.add_argument("--agent-think-time", type=float, default=0.5, help="agents' mean, s")
    parser.add_argument("--handoff-share", type=float, default=0.1)
    parser.add_argument("--intent-share", type=float, default=0.3)
    parser.add_argument("--agent-capacity", type=int, default=3)
    parser.add_argument("--queue-poll", type=float, default=2.0, help="agents' queue reads, s")
    parser.add_argument("--handoff-timeout", type=float, default=30.0)
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to finish after")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-p99-ms", type=float, default=None, help="fail above (turns)")
    parser.add_argument("--log-level", default="warning", help="the started service's")
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = LoadConfig(
        base_url=args.url or "",
        admin_email=args.admin_email,
        admin_password=args.admin_password,
        customers=args.customers,
        agents=args.agents,
        duration=args.duration,
        max_turns=args.max_turns,
        think_time=args.think_time,
        agent_think_time=args.agent_think_time,
        handoff_share=args.handoff_share,
        intent_share=args.intent_share,
        handoff_timeout=args.handoff_timeout,
        agent_capacity=args.agent_capacity,
        queue_poll=args.queue_poll,
        drain=args.drain,
        seed=args.seed,
    )
    result = asyncio.run(run_with_server(args, config))
    text = report(result, config)
    print(text)
    for line in result.problems:
        print(f"problem: {line}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    if args.write:
        write_doc_section(SECTION, text, path=DOC)
    if not result.ok:
        sys.exit(1)
    turn_p99 = result.p99(TURN)
    if args.max_p99_ms is not None and not turn_p99 <= args.max_p99_ms:
        print(f"customer turn p99 {turn_p99:.0f} ms > {args.max_p99_ms:g} ms", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
