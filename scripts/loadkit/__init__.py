"""The load test's parts (`scripts/loadtest.py` is its command line): simulated customers and
agents against a running service on loopback, and the figures of the run.

- `config`: `LoadConfig`, what to run;
- `scenarios`: what the customers and agents do, and the state of a run they share;
- `client`: their HTTP and WebSocket calls;
- `driver`: the asyncio driver and its loop (`run_load`);
- `report`: the figures (throughput, percentiles, lost / duplicated / undelivered messages) and
  their Markdown section.

The public API is re-exported here: `LoadConfig`, `run_load`, its `LoadResult`, and `TURN`, the
name of the customer-turn operation in `LoadResult.operations`.
"""

from scripts.loadkit.config import LoadConfig
from scripts.loadkit.driver import run_load
from scripts.loadkit.report import TURN, LoadResult

__all__ = ["TURN", "LoadConfig", "LoadResult", "run_load"]
