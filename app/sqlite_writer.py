"""Group commit on SQLite: one thread runs every writing transaction of the process.

SQLite lets one writer in at a time. With a pool of threads each taking the write lock in turn,
the waiting threads would sleep in SQLite's busy handler and the holder would need the GIL back
after every statement (the driver releases it around each one) while the event loop and the
encoders hold it: a turn's few statements would keep the lock for tens of milliseconds. What the
design below sustains under load (scripts/bench_throughput.py) is in docs/BENCHMARKS.md.

Here one thread owns the writing connection. Whatever transactions queued up while it was busy
run together in one `BEGIN IMMEDIATE ... COMMIT`, each inside its own savepoint: a function that
raises rolls back to its savepoint (its own writes only, exactly as if its transaction had
rolled back) and the others still commit. Each caller learns its outcome only after the group's
commit, so nothing is reported stored before it is. If the group's commit itself fails, every
function of the group runs again alone, in its own transaction, so one bad apple cannot fail
the others. A lone transaction runs without a savepoint.

The functions run one after another, as SQLite's write lock would run them anyway, so each sees
the state the previous one left: a turn's reservation of sequence numbers stays atomic.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

# Most transactions committed together: bounds how long one commit keeps later callers waiting.
MAX_GROUP = 64
_SAVEPOINT = "switchboard_group"


class _GroupBroken(Exception):
    """The group cannot go on (a function left the connection in a state we do not know):
    roll it all back and run each function alone."""


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


@dataclass
class WriterStats:
    """Counters of the writer (exposed on /readyz)."""

    groups: int = 0
    transactions: int = 0
    largest_group: int = 0
    regrouped: int = 0  # groups whose commit failed, each function then run alone
    busy_seconds: float = 0.0  # wall time spent running groups
    cpu_seconds: float = 0.0  # the writer thread's CPU time meanwhile (the rest: waiting)


def _settle(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in outcomes:
        if future.done():  # its caller gave up
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class GroupCommitWriter:
    """Runs `fn(connection, ...)` calls in group-committed transactions on one thread."""

    def __init__(self, engine: Engine, *, max_group: int = MAX_GROUP) -> None:
        self._engine = engine
        self._max_group = max_group
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.stats = WriterStats()
        self._thread = threading.Thread(target=self._serve, name="sqlite-writer", daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(connection, *args, **kwargs)` in a writing transaction: its result once
        committed, or what it raised (its writes rolled back)."""
        if not self._thread.is_alive():
            raise RuntimeError("the database writer has stopped")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put(_Job(fn, args, kwargs, loop, future))
        return await future

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            job = self._jobs.get()
            if job is None:
                return
            group = [job]
            while len(group) < self._max_group:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                group.append(more)
            wall, cpu = time.perf_counter(), time.thread_time()
            outcomes = self._run_group(group)
            self.stats.busy_seconds += time.perf_counter() - wall
            self.stats.cpu_seconds += time.thread_time() - cpu
            self._deliver(group, outcomes)

    def _run_group(self, group: list[_Job]) -> list[tuple[bool, Any]]:
        if len(group) == 1:
            return [self._run_alone(group[0])]
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._engine.begin() as conn:
                for job in group:
                    outcomes.append(self._run_in_savepoint(conn, job))
        except Exception:
            log.warning("a group commit of %d transactions failed; running each alone", len(group))
            self.stats.regrouped += 1
            return [self._run_alone(job) for job in group]
        self._count(len(group))
        return outcomes

    @staticmethod
    def _run_in_savepoint(conn: Connection, job: _Job) -> tuple[bool, Any]:
        # Plain SQL savepoints: SQLAlchemy's `begin_nested` compiles and tracks one per call,
        # which cost more than the statements of a turn. A function's own `begin_nested`
        # blocks still nest inside this one.
        conn.exec_driver_sql(f"SAVEPOINT {_SAVEPOINT}")
        try:
            result = job.fn(conn, *job.args, **job.kwargs)
        except BaseException as exc:  # delivered to the caller, like any failure of its own
            if conn.in_nested_transaction():
                raise _GroupBroken from exc  # a savepoint of its own left open
            conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            conn.exec_driver_sql(f"RELEASE SAVEPOINT {_SAVEPOINT}")
            return False, exc
        if conn.in_nested_transaction():
            raise _GroupBroken("a function left a savepoint open")
        conn.exec_driver_sql(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        return True, result

    def _run_alone(self, job: _Job) -> tuple[bool, Any]:
        try:
            with self._engine.begin() as conn:
                result = job.fn(conn, *job.args, **job.kwargs)
        except BaseException as exc:
            self._count(1)
            return False, exc
        self._count(1)
        return True, result

    def _count(self, size: int) -> None:
        self.stats.groups += 1
        self.stats.transactions += size
        self.stats.largest_group = max(self.stats.largest_group, size)

    @staticmethod
    def _deliver(group: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for job, (ok, value) in zip(group, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append((job.future, ok, value))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                continue
