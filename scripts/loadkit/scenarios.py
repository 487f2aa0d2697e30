"""What the load test's simulated people do, and the state of a run they share.

- **Customers** (`Customer`, one conversation after another): open a conversation, follow it
  on its customer stream, and run one to four tasks with pauses (`think_time`, the mean of an
  exponential pause): a knowledge-base question (the `questions` of the articles in
  `knowledge_base/`), an intent with slots (`INTENT_FLOWS`: order status then an order number, a
  password reset, a refund or cancellation declined at the confirmation)
  or, for a share of them (`handoff_share`), a request for a person. After a handoff the
  customer waits on the stream for the agent's reply, answers, waits for the second reply and
  the resolution, and rates the conversation ("5"). Every post carries a `client_id`. With
  `identity_secret` (the service's SWITCHBOARD_IDENTITY__SECRET) each conversation is opened
  by a demo customer signed as the host site would sign them, and the intent flows ask about
  that customer's own order (the demo's order intents require a verified customer); without
  it the customers are anonymous and those flows get the sign-in reply.
- **Agents** (`Agent`, accounts made by `make_agents` through POST /api/v1/admin/users and
  deactivated by `retire`): sign in, set themselves online, listen on /api/v1/agent/stream for
  queue events (and read GET /api/v1/agent/queue every `queue_poll` seconds in case they were
  busy), claim (racing each other: a 409 is the expected answer for the losers, counted apart
  from errors), reply, wait for the customer's answer, reply again and resolve; up to
  `agent_capacity` conversations each at once.
- `LoadRun`: the configuration, recorder, API client and conversations of one run, its
  counts of customer posts, and its bounds (no task starts after the deadline or `max_turns`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import secrets
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from scripts.loadkit.client import Api, CustomerStream, stored_messages
from scripts.loadkit.config import SETTLE_SECONDS, STREAM_OPEN_SECONDS, LoadConfig
from scripts.loadkit.report import TURN, Conversation, Recorder, Sent
from scripts.servicekit import agent_account

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
# answer is sent only while the bot still asks); `{order}` is the signed-in customer's own
# order. Refunds and cancellations are declined at the confirmation, so the demo orders
# service's orders are never changed.
INTENT_FLOWS: list[list[str]] = [
    ["where is my order?", "it's {order}"],
    ["has my order shipped yet", "{order}"],
    ["can you check on order {order}"],
    ["I forgot my password"],
    ["reset my password"],
    ["I want a refund", "{order}", "no"],
    ["cancel my order", "{order}", "no"],
]
DEMO_DATA = json.loads(
    (Path(__file__).resolve().parents[1] / "demo_data" / "orders.json").read_text("utf-8")
)


def demo_identity(secret: str, rng: random.Random) -> tuple[dict[str, str], str]:
    """A demo customer signed with `secret` as the host site would (hex HMAC-SHA256 of the id),
    and one of their orders."""
    order = rng.choice(DEMO_DATA["orders"])
    customer = next(c for c in DEMO_DATA["customers"] if c["id"] == order["customer_id"])
    digest = hmac.new(secret.encode(), customer["id"].encode(), hashlib.sha256).hexdigest()
    return {**customer, "signature": digest}, order["number"]


RATING = "5"


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


# --------------------------------------------------------------------------- the run's state


class LoadRun:
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

    def may_start_task(self) -> bool:
        """Whether a new task may start: before the deadline and under `max_turns`."""
        if time.perf_counter() >= self.deadline:
            return False
        return not (self.config.max_turns and self.posted >= self.config.max_turns)

    async def think(self, rng: random.Random, mean: float) -> None:
        """A person's pause: exponential with `mean` seconds, at most ten times it."""
        if mean > 0:
            await asyncio.sleep(min(rng.expovariate(1.0 / mean), 10 * mean))


# --------------------------------------------------------------------------- customers


class Customer:
    """A simulated customer: conversations one after another until the run's bounds."""

    def __init__(self, run: LoadRun, number: int) -> None:
        self.run = run
        self.rng = random.Random(run.config.seed * 100_003 + number)
        self.order = "LS-10041"  # the signed-in customer's order, for the intent flows

    async def live(self) -> None:
        """Start after a random pause, then hold sessions while tasks may start."""
        await asyncio.sleep(self.rng.uniform(0, max(self.run.config.think_time, 0.05)))
        while self.run.may_start_task():
            await self.session()

    async def session(self) -> None:
        """One conversation: open it and its stream, run a few tasks, check the stream."""
        run, rng = self.run, self.rng
        body: dict[str, object] | None = None
        if run.config.identity_secret:
            customer, self.order = demo_identity(run.config.identity_secret, rng)
            body = {"customer": customer}
        opened = await run.api.call("open conversation", "POST", "/api/v1/conversations", json=body)
        if opened is None:
            await asyncio.sleep(1.0)
            return
        body = opened.json()
        conversation = Conversation(id=body["id"], token=body["token"])
        run.conversations[conversation.id] = conversation
        stream = CustomerStream(run.ws_base, conversation, run.recorder)
        try:
            await stream.open()
        except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
            run.recorder.errors[f"customer stream {type(exc).__name__}"] += 1
            return
        try:
            for index in range(rng.randint(1, 4)):
                if not run.may_start_task():
                    break
                if index:
                    await run.think(rng, run.config.think_time)
                if await self.task(conversation, stream):
                    break  # a person took over: the conversation ends with them
            await self.settle(conversation, stream)
        finally:
            await stream.close()

    async def task(self, conv: Conversation, stream: CustomerStream) -> bool:
        """Run one task; True if it ended in a handoff (then handled to the end)."""
        run, rng, config = self.run, self.rng, self.run.config
        draw = rng.random()
        if config.agents and draw < config.handoff_share:
            reply = await self.say(conv, stream, rng.choice(HANDOFF_ASKS), "handoff ask")
        elif draw < config.handoff_share + config.intent_share:
            flow = [step.format(order=self.order) for step in rng.choice(INTENT_FLOWS)]
            reply = await self.say(conv, stream, flow[0], "intent")
            for answer in flow[1:]:
                if reply is None or reply["kind"] != "ask":
                    break
                await run.think(rng, config.think_time)
                reply = await self.say(conv, stream, answer, "intent")
        else:
            reply = await self.say(conv, stream, rng.choice(run.questions), "question")
        if reply is None or reply["kind"] != "handoff":
            return False
        if config.agents:
            await self.with_agent(conv, stream)
        else:
            run.recorder.counters["handoffs with no agents in the run"] += 1
        return True

    async def say(
        self, conv: Conversation, stream: CustomerStream, text: str, kind: str
    ) -> dict[str, Any] | None:
        """Post a customer message; the bot's reply (None if none or the post failed)."""
        run = self.run
        client_id = conv.next_client_id()
        run.posted += 1
        sent = conv.customer[client_id] = Sent(text, time.perf_counter())
        response = await run.api.post_message(
            f"turn: {kind}", f"/api/v1/conversations/{conv.id}/messages", text, client_id, conv.auth
        )
        if response is None:
            return None
        now = time.perf_counter()
        sent.acked = True
        run.turns += 1
        run.last_turn = now
        run.recorder.time(TURN, now - sent.started)
        reply: dict[str, Any] | None = response.json()["reply"]
        kind_seen = reply["kind"] if reply else "none (a person owns it)"
        if reply and reply.get("handoff_reason"):
            kind_seen = f"{kind_seen} ({reply['handoff_reason']})"
        run.recorder.kinds[kind_seen] += 1
        if reply is not None:
            conv.bot[int(reply["seq"])] = reply["text"]
            stream.expect_bot(int(reply["seq"]), sent.started)
        return reply

    async def with_agent(self, conv: Conversation, stream: CustomerStream) -> None:
        """After a handoff: wait for the agent, answer, wait for the reply and the
        resolution, rate."""
        run, rng = self.run, self.rng
        run.recorder.counters["handoffs"] += 1
        waited = time.perf_counter()
        timeout = run.config.handoff_timeout
        if not await stream.wait_until(lambda: stream.agent_texts >= 1, timeout):
            run.recorder.counters["handoffs unanswered (customer gave up)"] += 1
            return
        run.recorder.time("handoff -> first agent reply", time.perf_counter() - waited)
        await run.think(rng, run.config.think_time)
        await self.say(conv, stream, rng.choice(FOLLOW_UPS), "to the agent")
        if not await stream.wait_until(lambda: stream.agent_texts >= 2, timeout):
            run.recorder.counters["handoffs: agent's second reply missing"] += 1
            return
        if not await stream.wait_until(lambda: "resolved" in stream.statuses, timeout):
            run.recorder.counters["handoffs: not resolved"] += 1
            return
        run.recorder.counters["handoffs answered and resolved"] += 1
        await run.think(rng, run.config.think_time)
        await self.say(conv, stream, RATING, "rating")

    async def settle(self, conv: Conversation, stream: CustomerStream) -> None:
        """At the session's end: the stream must deliver everything stored so far."""
        stored = await stored_messages(self.run.api, conv)
        if stored is None:
            return
        seqs = {int(m["seq"]) for m in stored}
        await stream.wait_until(lambda: seqs <= set(conv.delivered), SETTLE_SECONDS)
        conv.checked_up_to = max(seqs, default=0)


# --------------------------------------------------------------------------- agents


async def login(run: LoadRun, email: str, password: str) -> dict[str, str]:
    """Sign in through the recording API; the session's headers (exits on failure)."""
    response = await run.api.call(
        "login", "POST", "/api/v1/auth/login", json={"email": email, "password": password}
    )
    if response is None:
        raise SystemExit(f"could not sign in as {email}: {run.recorder.problems[-1:]}")
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def make_agents(run: LoadRun) -> list[Agent]:
    """The run's agent accounts, created by the admin and signed in (none with `agents` 0)."""
    config = run.config
    if not config.agents:
        return []
    if not (config.admin_email and config.admin_password):
        raise SystemExit(
            "agents need an admin: --admin-email/--admin-password "
            "(or SWITCHBOARD_ADMIN_EMAIL/PASSWORD), or --agents 0"
        )
    admin = await login(run, config.admin_email, config.admin_password)
    agents = []
    for index in range(config.agents):
        email = f"loadtest-{run.run_id}-agent{index}@example.com"
        password = secrets.token_urlsafe(16)
        created = await run.api.call(
            "create agent",
            "POST",
            "/api/v1/admin/users",
            json=agent_account(email, password, f"Agent {index}"),
            headers=admin,
        )
        if created is None:
            raise SystemExit(f"could not create agent {email}: {run.recorder.problems[-1:]}")
        headers = await login(run, email, password)
        agents.append(Agent(run, index, int(created.json()["id"]), headers))
    run.admin = admin
    return agents


async def retire(run: LoadRun, agents: list[Agent]) -> None:
    """Deactivate the run's agent accounts (their passwords die with the run)."""
    for agent in agents:
        await run.api.call(
            "deactivate agent",
            "POST",
            f"/api/v1/admin/users/{agent.user_id}/deactivate",
            headers=run.admin,
        )


class Agent:
    """A simulated agent: listens to the staff stream, claims, replies, resolves."""

    def __init__(self, run: LoadRun, index: int, user_id: int, headers: dict[str, str]) -> None:
        self.run = run
        self.index = index
        self.user_id = user_id
        self.headers = headers
        self.rng = random.Random(run.config.seed * 7919 + index)
        self.queued: set[str] = set()  # our conversations the queue shows
        self.claiming: set[str] = set()
        self.working: dict[str, asyncio.Queue[dict[str, Any]]] = {}  # conversation -> its inbox
        self.tasks: set[asyncio.Task[None]] = set()
        self.replies = 0
        self.online = asyncio.Event()

    @property
    def busy(self) -> int:
        """Conversations being claimed or worked."""
        return len(self.claiming) + len(self.working)

    def spawn(self, job: Coroutine[Any, Any, None]) -> None:
        """Run `job` as one of this agent's tasks."""
        task = asyncio.create_task(job)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        """Forget a finished task; a crash is recorded."""
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.run.recorder.errors[f"agent job crashed {type(exc).__name__}"] += 1
            self.run.recorder.problem(f"agent {self.index} job crashed: {exc!r}")

    async def serve(self) -> None:
        """Follow the staff stream (reconnecting if it closes) until cancelled."""
        recorder = self.run.recorder
        url = f"{self.run.ws_base}/api/v1/agent/stream"
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
                            await self.run.api.call(
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
        """Act on a staff-stream event of this run's conversations: queue changes (claim some),
        auto-assignment (start work), a customer's message (to its conversation's inbox)."""
        conversation_id = event.get("conversation_id")
        if conversation_id not in self.run.conversations:
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
        """Read the queue every `queue_poll` seconds (give or take a quarter) and claim some."""
        while True:
            await asyncio.sleep(self.run.config.queue_poll * self.rng.uniform(0.75, 1.25))
            response = await self.run.api.call(
                "read queue", "GET", "/api/v1/agent/queue", headers=self.headers
            )
            if response is not None:
                self.queued = {
                    item["conversation_id"]
                    for item in response.json()["items"]
                    if item["conversation_id"] in self.run.conversations
                }
                self.claim_some()

    def claim_some(self) -> None:
        """Claim queued conversations, in random order, while under `agent_capacity`."""
        candidates = [c for c in self.queued if c not in self.claiming and c not in self.working]
        self.rng.shuffle(candidates)
        for conversation_id in candidates:
            if self.busy >= self.run.config.agent_capacity:
                return
            self.claiming.add(conversation_id)
            self.spawn(self.claim(conversation_id))

    async def claim(self, conversation_id: str) -> None:
        """Claim one conversation after a person's reaction time; work it when won."""
        recorder = self.run.recorder
        try:
            await asyncio.sleep(self.rng.uniform(0, 0.2))  # a person's reaction
            if conversation_id not in self.queued:
                return  # someone else took it meanwhile
            response = await self.run.api.call(
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
        """Work the conversation, its customer messages arriving in an inbox."""
        self.working[conversation_id] = asyncio.Queue()
        self.spawn(self.work(conversation_id))

    async def work(self, conversation_id: str) -> None:
        """Greet, wait for the customer's answer, reply, resolve."""
        config = self.run.config
        inbox = self.working[conversation_id]
        try:
            await self.run.think(self.rng, config.agent_think_time)
            if not await self.reply(conversation_id, "Hi, I'm Agent {n}. I'm looking into it."):
                return
            try:
                await asyncio.wait_for(inbox.get(), config.handoff_timeout)
            except TimeoutError:
                self.run.recorder.counters["agent: customer never answered"] += 1
            await self.run.think(self.rng, config.agent_think_time)
            if not await self.reply(
                conversation_id, "Thanks, Agent {n} here again: I've sorted that out for you."
            ):
                return
            await self.run.think(self.rng, config.agent_think_time)
            resolved = await self.run.api.call(
                "resolve",
                "POST",
                f"/api/v1/agent/conversations/{conversation_id}/resolve",
                headers=self.headers,
            )
            if resolved is not None:
                self.run.recorder.counters["resolved by agents"] += 1
        finally:
            del self.working[conversation_id]
            self.claim_some()

    async def reply(self, conversation_id: str, template: str) -> bool:
        """Post a reply tagged `[ref <tag>]` (the tag is also its client_id); whether it was
        acknowledged."""
        self.replies += 1
        tag = f"a{self.index}-{self.replies}"
        text = f"{template.format(n=self.index)} [ref {tag}]"
        conv = self.run.conversations[conversation_id]
        sent = conv.agent[tag] = Sent(text, time.perf_counter())
        response = await self.run.api.post_message(
            "agent reply",
            f"/api/v1/agent/conversations/{conversation_id}/messages",
            text,
            tag,
            self.headers,
        )
        if response is None:
            return False
        sent.acked = True
        return True
