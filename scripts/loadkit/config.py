"""What a load test runs (`LoadConfig`): the service it targets, how many simulated customers
and agents, for how long, and how they behave; and the driver's fixed limits on retries and
waits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
KB_DIR = REPO_ROOT / "knowledge_base"
RETRIES = 4  # attempts of an idempotent post, and of a customer stream's reconnect
STREAM_OPEN_SECONDS = 15.0  # a WebSocket's open and first frames
SETTLE_SECONDS = 10.0  # at a session's end, for the stream to deliver what is stored


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
    identity_secret: str | None = None  # sign customers in (the service's identity secret)
