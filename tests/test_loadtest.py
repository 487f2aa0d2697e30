"""The load-test driver (`scripts/loadtest.py`) against the real service on a loopback socket:
a short run with a few customers and two agents stores every message exactly once, delivers
every stored message on its customer stream, and gets handoffs claimed, answered and resolved.
Customers sign in as demo customers (the test apps' identity secret), so the order intents'
flows run the verified path against the demo orders service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scripts.loadtest import TURN, LoadConfig, run_load
from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, IDENTITY_SECRET


async def test_short_load_run_loses_nothing(start_server: Callable[..., Any]) -> None:
    async with start_server(**ADMIN) as server:
        result = await run_load(
            LoadConfig(
                base_url=str(server),
                admin_email=ADMIN_EMAIL,
                admin_password=ADMIN_PASSWORD,
                customers=4,
                agents=2,
                duration=10.0,
                think_time=0.3,
                agent_think_time=0.1,
                handoff_share=0.3,
                handoff_timeout=15.0,
                drain=20.0,
                seed=3,
                identity_secret=IDENTITY_SECRET,
            )
        )

    assert result.problems == []
    assert result.turns >= 20, result
    assert result.customer_messages == result.turns
    assert result.operations[TURN].count == result.turns
    assert result.lost == 0
    assert result.duplicated == 0
    assert result.undelivered == 0
    assert result.delivered_twice == 0
    assert result.seq_gaps == 0
    assert result.unexpected == 0
    assert result.ok
    assert result.server_errors == 0, result.http_errors
    assert result.counters["claims won"] >= 1
    assert result.counters["handoffs answered and resolved"] >= 1
    assert result.agent_messages >= 2
    assert result.operations["agent reply -> customer stream"].count == result.agent_messages
    assert result.counters.get("customer sessions cut off after the drain", 0) == 0
