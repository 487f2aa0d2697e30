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
given on the command line is masked in the report; with SWITCHBOARD_IDENTITY__SECRET set to the
service's, customers sign in as demo customers, so the order intents run for them):

    SWITCHBOARD_ADMIN_EMAIL=admin@example.com SWITCHBOARD_ADMIN_PASSWORD='change me now' \
        .venv/bin/python scripts/loadtest.py --url http://127.0.0.1:8000 --customers 16 \
        --agents 4 --duration 60

or let it start one (fresh data folder, its own demo orders service and first admin):
`.venv/bin/python scripts/loadtest.py --start --duration 300 [--json out.json] [--write]`;
`--write` updates the generated section of docs/BENCHMARKS.md. The driver shares the machine
with the service when both run on it; the figures include that.

This file is the command line; the load test itself is the package `scripts/loadkit/`
(`scenarios`, `client`, `driver`, `report`), whose `LoadConfig`, `run_load`, `LoadResult` and
`TURN` this module re-exports for the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.loadkit import TURN, LoadConfig, LoadResult, run_load  # noqa: E402
from scripts.loadkit.driver import run_load_watching  # noqa: E402
from scripts.loadkit.report import report  # noqa: E402
from scripts.reportkit import BENCHMARKS, command_line, write_doc_section  # noqa: E402
from scripts.servicekit import free_port, fresh_service, start_orders_api, stop_server  # noqa: E402

__all__ = ["TURN", "LoadConfig", "LoadResult", "main", "run_load"]

SECTION = "loadtest"


def shown_command(argv: Sequence[str] | None = None) -> str:
    """The command line as typed (`argv`, by default `sys.argv`), with the admin password
    masked."""
    args = list(sys.argv if argv is None else argv)
    masked: list[str] = []
    for i, arg in enumerate(args):
        if i and args[i - 1] == "--admin-password":
            masked.append("***")
        elif arg.startswith("--admin-password="):
            masked.append("--admin-password=***")
        else:
            masked.append(arg)
    return command_line(masked)


async def run_with_server(args: argparse.Namespace, config: LoadConfig) -> LoadResult:
    """Start a service with a fresh data folder (and its own demo orders service) if asked,
    then run."""
    if not args.start:
        return await run_load_watching(config, args.service_pid)
    admin_email = config.admin_email or "loadtest-admin@example.com"
    admin_password = config.admin_password or secrets.token_urlsafe(16)
    config.admin_email, config.admin_password = admin_email, admin_password
    orders_token = secrets.token_urlsafe(16)
    config.identity_secret = config.identity_secret or secrets.token_hex(32)
    orders_port = free_port()
    orders = start_orders_api(
        orders_port, token=orders_token, identity_secret=config.identity_secret
    )
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
            "SWITCHBOARD_IDENTITY__SECRET": config.identity_secret,
            "SWITCHBOARD_LOG_LEVEL": args.log_level,
        }
        with fresh_service(env, prepare=True) as service:
            print(
                f"service ready on port {service.port} in {service.ready_seconds:.0f} s",
                file=sys.stderr,
            )
            config.base_url = service.url
            return await run_load_watching(config, service.process.pid)
    finally:
        stop_server(orders)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's options."""
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
    """Run, print the section (problems to stderr), write the JSON and the docs section if
    asked; exit 1 when anything was lost, duplicated or undelivered, 2 when only the turn p99
    bound was exceeded."""
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
        identity_secret=os.environ.get("SWITCHBOARD_IDENTITY__SECRET") or None,
    )
    result = asyncio.run(run_with_server(args, config))
    text = report(result, config, shown_command())
    print(text)
    for line in result.problems:
        print(f"problem: {line}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    if args.write:
        write_doc_section(SECTION, text, path=BENCHMARKS)
    if not result.ok:
        sys.exit(1)
    turn_p99 = result.p99(TURN)
    if args.max_p99_ms is not None and not turn_p99 <= args.max_p99_ms:
        print(f"customer turn p99 {turn_p99:.0f} ms > {args.max_p99_ms:g} ms", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
