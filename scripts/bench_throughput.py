"""Sustained throughput with 32 customers chatting at once, against the encoder's own batched
throughput measured in the same run.

Starts the real service (`python -m app serve`) on loopback with a fresh data folder, loads the
same model on the same backend in this process the way the service does
(`app.nlp.embedder.Embedder.from_settings`), and measures:

(a) the encoder alone: batches of 32 realistic customer messages, sentences per second (before
    and after the service runs; the higher of the two is the reference, so the ratio is not
    flattered by a slow moment);
(b) the service: `--customers` customers (default 32), each in its own conversation (a new one
    every 5 messages and after a handoff), posting messages back to back over keep-alive HTTP
    for `--seconds` (default 60) after `--warmup` seconds, in two mixes:
    - varied: questions drawn from the shipped knowledge base (article titles and alternate
      questions) with light paraphrase and noise (greetings, fillers, closing words, case, a
      typo now and then), so most messages are new;
    - repeated: 24 of those questions sent verbatim, over and over (what a cache helps);
    reporting turns/s, p50/p95/p99 turn latency, the encoder's mean batch, the server's stage
    timings (`Server-Timing`) and the query-embedding cache's hits;
and the ratio (b)/(a) against the 60% floor. The bench's own encoder sits idle (its ONNX threads
do not spin) while the service is measured, so the two never compete.

The load generator is a minimal asyncio HTTP/1.1 client (one keep-alive connection per
customer, about a tenth of httpx's CPU per request) running on the same cores as the service.

`--profile PATH` adds a third, separate run of the varied mix with py-spy attached to the server
(`py-spy record --format raw`, stacks written to PATH) and reports where its CPU time goes;
the measured runs above are never profiled.

Run from the repo root: `.venv/bin/python scripts/bench_throughput.py [--write] [--json PATH]`;
`--write` updates the generated section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from app.config import Settings  # noqa: E402
from app.kb.loader import load_folder  # noqa: E402
from app.nlp.embedder import Embedder  # noqa: E402
from scripts.reportkit import (  # noqa: E402
    BENCHMARKS,
    command_line,
    cores,
    machine_description,
    percentile_ms,
    today,
    write_doc_section,
)
from scripts.servicekit import (  # noqa: E402
    add_server_timing,
    free_port,
    prepare_data_dir,
    start_server,
    stop_server,
)

FLOOR = 0.60  # service turns/s as a share of the encoder's batched sentences/s
ENCODER_BATCH = 32
TURNS_PER_CONVERSATION = 5
REPEATED_POOL = 24
BUSY_MACHINE = 0.2  # cores used by other processes above which a run is flagged

# Light paraphrase and noise around a knowledge-base question.
OPENERS = [
    "",
    "",
    "",
    "hi, ",
    "hello, ",
    "hey ",
    "hi there! ",
    "quick question: ",
    "good morning, ",
    "excuse me, ",
    "one more thing: ",
]
CLOSERS = ["", "", "", "?", "??", " please", " thanks", ", thank you!", " asap", " :)"]
FILLERS = ["just wondering, ", "so ", "basically ", "I was wondering ", "can you tell me "]


# --------------------------------------------------------------------------- messages


def kb_questions(folder: Path = REPO_ROOT / "knowledge_base") -> list[str]:
    """The shipped articles' titles and alternate questions: what customers ask."""
    questions: list[str] = []
    for article in load_folder(folder):
        questions.append(article.title)
        questions.extend(article.questions)
    return sorted(set(questions))


def _typo(text: str, rng: random.Random) -> str:
    """One keyboard slip in a word of four letters or more: two letters swapped or one
    dropped."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    word = words[i]
    j = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5:
        word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    else:
        word = word[:j] + word[j + 1 :]
    words[i] = word
    return " ".join(words)


def varied_message(questions: list[str], rng: random.Random) -> str:
    """A knowledge-base question as a customer might type it."""
    text = rng.choice(questions).rstrip("?").strip()
    if rng.random() < 0.2:
        text = rng.choice(FILLERS) + text[0].lower() + text[1:]
    if rng.random() < 0.3:
        text = _typo(text, rng)
    case = rng.random()
    if case < 0.4:
        text = text.lower()
    elif case < 0.5:
        text = text[0].upper() + text[1:]
    return rng.choice(OPENERS) + text + rng.choice(CLOSERS)


def normalised(text: str) -> str:
    """The text as an exact-repeat cache sees it: lowercased, whitespace collapsed."""
    return " ".join(text.lower().split())


class Mix:
    """Where a customer's next message comes from."""

    def __init__(self, name: str, questions: list[str], *, repeated: bool, seed: int) -> None:
        self.name = name
        self.repeated = repeated
        self._rng = random.Random(seed)
        self._questions = questions
        self._pool = self._rng.sample(questions, REPEATED_POOL) if repeated else []
        self.sent: Counter[str] = Counter()

    def next(self) -> str:
        """The next message (counted, to report how many distinct texts were sent)."""
        if self.repeated:
            text = self._rng.choice(self._pool)
        else:
            text = varied_message(self._questions, self._rng)
        self.sent[normalised(text)] += 1
        return text


# --------------------------------------------------------------------------- (a) the encoder


@dataclass
class EncoderLayout:
    """One way to run the encoder alone: `calls` batches encoded at once (each from its own
    thread), each call on `embedder.threads` threads."""

    name: str
    embedder: Embedder
    calls: int


def encoder_layouts(settings: Settings) -> list[EncoderLayout]:
    """The encoder alone, same model and backend, laid out two ways: one call at a time on
    every core (the usual batched encode), and the service's layout (one call per encoder
    worker, each on its share of the cores). The better of the two is the reference."""
    whole = Embedder(
        settings.embedding_model,
        backend=settings.embedding.backend,
        cache_dir=settings.model_cache_dir,
        threads=cores(),
        workers=1,
    )
    service = Embedder.from_settings(settings)
    layouts = [EncoderLayout(f"1 call at a time, {whole.threads} threads", whole, 1)]
    if service.workers > 1:
        layouts.append(
            EncoderLayout(
                f"{service.workers} calls at once, {service.threads} thread(s) each (the "
                "service's layout)",
                service,
                service.workers,
            )
        )
    return layouts


def measure_encoder(
    layout: EncoderLayout, questions: list[str], seconds: float, seed: int, server_pid: int
) -> dict[str, Any]:
    """Sentences per second encoding batches of ENCODER_BATCH varied messages back to back
    for `seconds` (after warm-up batches), `layout.calls` batches at a time, the median batch
    time, and the cores other processes than this one and the (idle) service used meanwhile.
    The batches are written before the clock starts."""
    rng = random.Random(seed)
    pool = [[varied_message(questions, rng) for _ in range(ENCODER_BATCH)] for _ in range(64)]
    embedder = layout.embedder
    for batch in pool[:3]:
        embedder.encode(batch)
    times: list[list[float]] = [[] for _ in range(layout.calls)]
    deadline = time.perf_counter() + seconds

    def work(number: int) -> None:
        turn = number
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            embedder.encode(pool[turn % len(pool)])
            times[number].append(time.perf_counter() - t0)
            turn += layout.calls

    cpu_before = CpuSnapshot.take(server_pid)
    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(n,)) for n in range(layout.calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = cpu_use(server_pid, cpu_before, CpuSnapshot.take(server_pid), elapsed)
    batches = [t for per_thread in times for t in per_thread]
    return {
        "layout": layout.name,
        "sentences_per_second": len(batches) * ENCODER_BATCH / elapsed,
        "batch_p50_ms": float(np.median(batches) * 1000.0),
        "batches": len(batches),
        "other_cores": cpu["other_cores"] + cpu["server_cores"],
    }


# --------------------------------------------------------------------------- HTTP client


class HttpError(RuntimeError):
    """The service answered with an unexpected status."""


class Connection:
    """One keep-alive HTTP/1.1 connection: a request at a time, bodies with Content-Length
    (what uvicorn sends for FastAPI's JSON responses)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        """Connect to the service on loopback."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, lower-cased headers and body of one request."""
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(payload)}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        if token is not None:
            head += f"Authorization: Bearer {token}\r\n"
        self._writer.write(head.encode() + b"\r\n" + payload)
        raw = await self._reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise HttpError(f"response without Content-Length: {lines[0]}")
        return status, headers, await self._reader.readexactly(int(headers["content-length"]))

    async def close(self) -> None:
        """Close the connection."""
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


# --------------------------------------------------------------------------- (b) the service


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each live thread of process `pid`, by thread id."""
    seconds: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rpartition(")")[2].split()
            seconds[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not waiting for I/O)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


@dataclass
class CpuSnapshot:
    """CPU counters at one moment: the server's threads, this process, the machine."""

    server: dict[int, float]
    client: float
    machine: float

    @classmethod
    def take(cls, pid: int) -> CpuSnapshot:
        """Read the counters now."""
        return cls(thread_cpu(pid), time.process_time(), machine_busy())


def cpu_use(pid: int, before: CpuSnapshot, after: CpuSnapshot, seconds: float) -> dict[str, float]:
    """Cores used over the window: the server (and its event-loop thread), this load
    generator, and everything else on the machine."""
    server = sum(after.server.values()) - sum(before.server.values())
    loop = after.server.get(pid, 0.0) - before.server.get(pid, 0.0)
    client = after.client - before.client
    machine = after.machine - before.machine
    return {
        "server_cores": server / seconds,
        "server_loop_thread_cores": loop / seconds,
        "client_cores": client / seconds,
        "other_cores": max(0.0, machine - server - client) / seconds,
        "machine_cores": machine / seconds,
    }


@dataclass
class LoadResult:
    """What one mix's measured window saw."""

    mix: str
    customers: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    stages: dict[str, list[float]] = field(default_factory=dict)
    encoder: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    distinct_share: float = 0.0
    by_thread: dict[int, float] = field(default_factory=dict)  # server CPU s per thread id
    writer: dict[str, float] = field(default_factory=dict)  # SQLite's group-commit writer

    def summary(self) -> dict[str, Any]:
        """The figures reported for this mix."""
        return {
            "mix": self.mix,
            "customers": self.customers,
            "seconds": round(self.seconds, 1),
            "turns": len(self.latencies),
            "turns_per_second": len(self.latencies) / self.seconds,
            "p50_ms": percentile_ms(self.latencies, 50),
            "p95_ms": percentile_ms(self.latencies, 95),
            "p99_ms": percentile_ms(self.latencies, 99),
            "reply_kinds": dict(sorted(self.kinds.items())),
            "stage_p50_ms": {s: float(np.median(v)) for s, v in self.stages.items()},
            "encoder": self.encoder,
            "cpu": self.cpu,
            "distinct_share": self.distinct_share,
            "writer": self.writer,
        }


async def _readyz(port: int) -> dict[str, Any]:
    """The service's /readyz answer."""
    async with httpx.AsyncClient() as client:
        return dict((await client.get(f"http://127.0.0.1:{port}/readyz")).json())


async def _customer(
    port: int, mix: Mix, window: tuple[float, float], result: LoadResult, stop: asyncio.Event
) -> None:
    """One customer posting messages back to back; turns that start and end inside `window`
    count."""
    connection = await Connection.open(port)
    url, token, sent = "", "", 0
    try:
        while not stop.is_set():
            if not url or sent % TURNS_PER_CONVERSATION == 0:
                status, _, body = await connection.request("POST", "/api/v1/conversations")
                if status != 201:
                    raise HttpError(f"create failed: {status} {body[:200]!r}")
                created = json.loads(body)
                url = f"/api/v1/conversations/{created['id']}/messages"
                token = created["token"]
            text = mix.next()
            started = time.perf_counter()
            status, headers, body = await connection.request("POST", url, {"text": text}, token)
            ended = time.perf_counter()
            if status != 201:
                raise HttpError(f"turn failed: {status} {body[:200]!r}")
            sent += 1
            reply = json.loads(body)["reply"]
            if window[0] <= started and ended <= window[1]:
                result.latencies.append(ended - started)
                result.kinds[reply["kind"] if reply else "none"] += 1
                add_server_timing(result.stages, headers.get("server-timing", ""))
            if reply is None or reply["kind"] == "handoff":
                url = ""  # a person's conversation: the bot stays silent
    finally:
        await connection.close()


def _encoder_delta(
    before: dict[str, Any], after: dict[str, Any], seconds: float
) -> dict[str, float]:
    """The encoder's and the cache's counters over the window, from /readyz."""
    b, a = before["encoder"], after["encoder"]
    batches = a["batches"] - b["batches"]
    out = {
        "batches": batches,
        "texts_encoded": a["texts"] - b["texts"],
        "mean_batch": (a["texts"] - b["texts"]) / batches if batches else 0.0,
        "busy_share": (a["busy_seconds"] - b["busy_seconds"]) / seconds / a.get("workers", 1),
    }
    if "cache_hits" in a:
        hits = a["cache_hits"] - b["cache_hits"]
        misses = a["cache_misses"] - b["cache_misses"]
        out.update(
            {
                "cache_hits": hits,
                "cache_misses": misses,
                "cache_hit_rate": hits / (hits + misses) if hits + misses else 0.0,
            }
        )
    return out


def _writer_delta(
    before: dict[str, Any], after: dict[str, Any], seconds: float
) -> dict[str, float]:
    """The SQLite writer's counters over the window, from /readyz (empty on PostgreSQL)."""
    if "database_writer" not in after:
        return {}
    b, a = before["database_writer"], after["database_writer"]
    groups = a["groups"] - b["groups"]
    transactions = a["transactions"] - b["transactions"]
    busy = a["busy_seconds"] - b["busy_seconds"]
    return {
        "mean_group": transactions / groups if groups else 0.0,
        "busy_share": busy / seconds,
        "cpu_share_of_busy": (a["cpu_seconds"] - b["cpu_seconds"]) / busy if busy else 0.0,
        "ms_per_transaction": busy / transactions * 1000.0 if transactions else 0.0,
    }


@contextlib.asynccontextmanager
async def customers_running(
    ports: list[int], mix: Mix, customers: int, window: tuple[float, float], result: LoadResult
) -> AsyncIterator[None]:
    """`customers` chatting (spread over `ports`) while the body runs; then they stop, and the
    first failure among them is raised."""
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(_customer(ports[i % len(ports)], mix, window, result, stop))
        for i in range(customers)
    ]
    try:
        yield
    finally:
        stop.set()
        done = await asyncio.gather(*tasks, return_exceptions=True)
    for outcome in done:
        if isinstance(outcome, BaseException):
            raise outcome


async def measure_service(
    port: int,
    pid: int,
    mix: Mix,
    customers: int,
    warmup: float,
    seconds: float,
    at_window: Callable[[], Awaitable[None]] | None = None,
) -> LoadResult:
    """Customers chatting for `warmup` + `seconds`; the last `seconds` are measured (and
    `at_window` is awaited as they start)."""
    result = LoadResult(mix.name, customers, seconds)
    now = time.perf_counter()
    window = (now + warmup, now + warmup + seconds)
    async with customers_running([port], mix, customers, window, result):
        await asyncio.sleep(max(0.0, window[0] - time.perf_counter()))
        if at_window is not None:
            await at_window()
        before = await _readyz(port)
        cpu_before = CpuSnapshot.take(pid)
        sent_before = sum(mix.sent.values())
        distinct_before = set(mix.sent)
        await asyncio.sleep(max(0.0, window[1] - time.perf_counter()))
        cpu_after = CpuSnapshot.take(pid)
        after = await _readyz(port)
        sent = sum(mix.sent.values()) - sent_before
        new_texts = len(set(mix.sent) - distinct_before)
        result.distinct_share = new_texts / sent if sent else 0.0
    result.encoder = _encoder_delta(before, after, seconds)
    result.writer = _writer_delta(before, after, seconds)
    result.cpu = cpu_use(pid, cpu_before, cpu_after, seconds)
    result.by_thread = {
        tid: cpu_after.server[tid] - cpu_before.server.get(tid, 0.0) for tid in cpu_after.server
    }
    return result


def _run(coroutine: Coroutine[Any, Any, LoadResult]) -> LoadResult:
    """Run on uvloop (the load generator's share of the CPU kept small)."""
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvicorn[standard] installs it
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coroutine)


def run_load(
    port: int, pid: int, mix: Mix, customers: int, warmup: float, seconds: float
) -> LoadResult:
    """One mix's measured run."""
    return _run(measure_service(port, pid, mix, customers, warmup, seconds))


# --------------------------------------------------------------------------- profile

# Where a sampled stack's time goes: scanning from the innermost frame outwards, the first frame
# that matches one of these patterns (tried in order) names the part.
CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    ("encode: ONNX Runtime", re.compile(r"onnxruntime|InferenceSession|optimum")),
    ("encode: tokenizer", re.compile(r"tokenizers|tokenization_utils")),
    (
        "encode: Python around ONNX Runtime",
        re.compile(r"sentence_transformers|transformers/|torch/|app/nlp/embedder\.py"),
    ),
    ("search: vector index", re.compile(r"faiss|app/kb/")),
    ("intent: TF-IDF + heads", re.compile(r"sklearn|scipy|app/nlp/intent_classifier\.py")),
    ("sentiment: VADER + head", re.compile(r"vaderSentiment|app/nlp/sentiment\.py")),
    ("DB: SQLAlchemy + SQLite", re.compile(r"sqlalchemy|sqlite3|app/db\.py|app/sqlite_writer\.py")),
    ("JSON + pydantic", re.compile(r"pydantic|json/")),
    (
        "turn logic (policy, replies, dialogue, auth)",
        re.compile(r"app/(conversations|policy|intents|agents|realtime|nlp|auth)/"),
    ),
    (
        "HTTP + framework (uvicorn, starlette, FastAPI)",
        re.compile(r"uvicorn|starlette|fastapi|httptools|h11|anyio"),
    ),
    ("asyncio", re.compile(r"asyncio|uvloop")),
    ("thread pools (hand-off)", re.compile(r"concurrent/futures|threading\.py|queue\.py")),
]
THREAD_PREFIX = re.compile(r"^thread \((\d+)\): ([^;]*);")
DUMP_THREAD = re.compile(r'^Thread (\d+) \([^)]*\): "([^"]*)"', re.MULTILINE)
PY_SPY_RATE = 100


def _category(stack: str) -> str:
    """The part (CATEGORIES) a sampled stack's time goes to, "other" when none matches."""
    for frame in reversed(stack.split(";")):
        hit = next((name for name, pattern in CATEGORIES if pattern.search(frame)), None)
        if hit is not None:
            return hit
    return "other"


def gil_breakdown(raw: Path, seconds: float) -> dict[str, Any]:
    """From py-spy's raw `--gil --threads` output: the share of the window in which some thread
    held the GIL, and how those samples split by part and by thread."""
    parts: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        name = "?"
        match = THREAD_PREFIX.match(stack)
        if match:
            name = _thread_group(match.group(2))
            stack = stack[match.end() :]
        parts[_category(stack)] += int(count)
        threads[name] += int(count)
    total = sum(parts.values()) or 1
    return {
        "gil_busy_share": sum(parts.values()) / (PY_SPY_RATE * seconds),
        "parts": [(name, count / total) for name, count in parts.most_common()],
        "threads": [(name, count / total) for name, count in threads.most_common()],
    }


def _thread_group(name: str) -> str:
    """The group of threads a Python thread name belongs to, as the profile reports them."""
    if name == "MainThread":
        return "event loop (MainThread)"
    if name.startswith("encoder"):
        return "encoder workers"
    if name.startswith("sqlite-writer"):
        return "SQLite writer"
    if name.startswith("sqlite"):
        return "SQLite readers"
    return "other Python threads"


def thread_names(pid: int) -> dict[int, str]:
    """Python thread names of process `pid` by OS thread id (`py-spy dump`)."""
    dump = subprocess.run(
        [_py_spy(), "dump", "--pid", str(pid)], capture_output=True, text=True, check=True
    ).stdout
    return {int(tid): name for tid, name in DUMP_THREAD.findall(dump)}


def _py_spy() -> str:
    """The py-spy executable: on PATH, else beside this Python."""
    return shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))


def run_profiled(
    port: int, pid: int, mix: Mix, customers: int, warmup: float, seconds: float, out: Path
) -> dict[str, Any]:
    """The varied mix again, with py-spy sampling the server's GIL holder (`--gil`) for the
    measured window, and the kernel's CPU counters per thread."""
    names: dict[int, str] = {}
    recorder: list[asyncio.subprocess.Process] = []

    async def start() -> None:
        names.update(thread_names(pid))
        recorder.append(
            await asyncio.create_subprocess_exec(
                _py_spy(),
                "record",
                "--pid",
                str(pid),
                "--gil",
                "--threads",
                "--format",
                "raw",
                "--rate",
                str(PY_SPY_RATE),
                "--duration",
                str(int(seconds)),
                "--output",
                str(out),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    async def run() -> LoadResult:
        load = await measure_service(port, pid, mix, customers, warmup, seconds, at_window=start)
        await recorder[0].wait()
        return load

    load = _run(run())
    by_group: Counter[str] = Counter()
    for tid, cpu in load.by_thread.items():
        group = _thread_group(names[tid]) if tid in names else "native threads (ONNX Runtime, BLAS)"
        by_group[group] += cpu / seconds
    return {
        **load.summary(),
        "cpu_by_thread_cores": dict(by_group.most_common()),
        "gil": gil_breakdown(out, seconds),
        "raw": str(out),
    }


# --------------------------------------------------------------------------- report


def _pct(share: float) -> str:
    """A share as a whole percentage: 0.62 -> "62%"."""
    return f"{share * 100:.0f}%"


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    """The Markdown section of docs/BENCHMARKS.md."""
    encoder = results["encoder"]
    reference = encoder["reference_sentences_per_second"]
    # The usual batched encode (one call at a time on every core) is the first layout.
    usual = max(r["sentences_per_second"] for r in [encoder["before"][0], encoder["after"][0]])
    rows, cpu_rows, stage_rows = [], [], []
    for load in results["service"]:
        ratio = load["turns_per_second"] / reference
        enc, cpu = load["encoder"], load["cpu"]
        cache = _pct(enc["cache_hit_rate"]) if "cache_hit_rate" in enc else "no cache"
        rows.append(
            f"| {load['mix']} | {load['turns_per_second']:.0f} | {load['p50_ms']:.0f} | "
            f"{load['p95_ms']:.0f} | {load['p99_ms']:.0f} | "
            f"{_pct(load['turns_per_second'] / usual)} | "
            f"**{_pct(ratio)}** ({'met' if ratio >= FLOOR else 'missed'}) |"
        )
        cpu_rows.append(
            f"| {load['mix']} | {_pct(load['distinct_share'])} | {cache} | "
            f"{enc['mean_batch']:.1f} | {_pct(enc['busy_share'])} | "
            f"{cpu['server_cores']:.2f} ({cpu['server_loop_thread_cores']:.2f}) | "
            f"{cpu['client_cores']:.2f} | {cpu['other_cores']:.2f} |"
        )
        stages = ", ".join(f"{s} {v:.1f}" for s, v in load["stage_p50_ms"].items())
        kinds = ", ".join(f"{n} {k}" for k, n in load["reply_kinds"].items())
        stage_rows.append(f"- {load['mix']}: {stages} (replies: {kinds}).")
    others = [r["other_cores"] for r in [*encoder["before"], *encoder["after"]]]
    others += [load["cpu"]["other_cores"] for load in results["service"]]
    busy = max(others)
    lines = [
        "### Sustained throughput: 32 customers vs the encoder's batched throughput",
        "",
        f"`{results['command']}` on {results['machine']}, {results['date']}, SQLite, one "
        "service process on loopback.",
        "",
        *(
            [
                f"**Other processes used up to {busy:.2f} cores during this run: its figures "
                "are not those of a quiet machine.**",
                "",
            ]
            if busy > BUSY_MACHINE
            else []
        ),
        f"{args.customers} customers, each in its own conversation (a new one every "
        f"{TURNS_PER_CONVERSATION} messages and after a handoff), post messages back to back "
        f"for {args.seconds:.0f} s after a {args.warmup:.0f} s warm-up; the load generator (a "
        "minimal asyncio HTTP/1.1 client, one keep-alive connection per customer) shares the "
        "cores. *Varied*: the shipped articles' titles and alternate questions with light "
        "paraphrase and noise (greetings, fillers, closing words, case, a typo in 3 of 10). "
        f"*Repeated*: {REPEATED_POOL} of those questions verbatim. The encoder alone: the same "
        f"model and backend ({encoder['backend']}), batches of {ENCODER_BATCH} varied messages, "
        "one call at a time on every core (the usual batched encode) and in the service's "
        "layout (one call per encoder worker at once), before and after the service runs (the "
        "service idle then, and these encoders idle while the service is measured); the "
        "highest figure is the reference.",
        "",
        "| encoder alone, batch 32 | when | sentences/s | batch p50 (ms) | "
        "other processes' cores |",
        "|---|---|---:|---:|---:|",
        *[
            f"| {r['layout']} | {when} | {r['sentences_per_second']:.0f} | "
            f"{r['batch_p50_ms']:.1f} | {r['other_cores']:.2f} |"
            for when, measured in (("before", encoder["before"]), ("after", encoder["after"]))
            for r in measured
        ],
        "",
        "| mix | turns/s | p50 (ms) | p95 (ms) | p99 (ms) | "
        f"vs the usual batched encode ({usual:.0f}/s) | "
        f"vs the encoder's best ({reference:.0f}/s; floor {_pct(FLOOR)}) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "| mix | new texts | embedding cache hits | mean encoder batch | encoder busy | "
        "server cores (event-loop thread) | load generator cores | other processes' cores |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *cpu_rows,
        "",
        "Server stage medians in ms (`Server-Timing`; `understand` includes the wait for the "
        "encoder, `store` the wait for SQLite's writer thread, which commits the transactions "
        "queued meanwhile together):",
        "",
        *stage_rows,
        *(
            [
                "",
                "| mix | transactions per group commit | writer busy | its CPU while busy | "
                "ms per transaction |",
                "|---|---:|---:|---:|---:|",
                *[
                    f"| {load['mix']} | {w['mean_group']:.1f} | {_pct(w['busy_share'])} | "
                    f"{_pct(w['cpu_share_of_busy'])} | {w['ms_per_transaction']:.2f} |"
                    for load in results["service"]
                    if (w := load.get("writer"))
                ],
            ]
            if any(load.get("writer") for load in results["service"])
            else []
        ),
    ]
    profile = results.get("profile")
    if profile:
        gil = profile["gil"]
        lines += [
            "",
            f"Where the server's time goes, from a separate {profile['seconds']:.0f} s run of "
            f"the varied mix ({profile['turns_per_second']:.0f} turns/s while sampled): CPU "
            "cores per thread from the kernel's counters, and py-spy sampling the thread that "
            f"holds the GIL ({PY_SPY_RATE} Hz, `py-spy record --gil --threads --format raw`; "
            f"some thread held it in {_pct(gil['gil_busy_share'])} of the samples).",
            "",
            "| thread | CPU cores |",
            "|---|---:|",
            *[f"| {n} | {c:.2f} |" for n, c in profile["cpu_by_thread_cores"].items()],
            "",
            "| part (GIL-holding samples, innermost matching frame) | share |",
            "|---|---:|",
            *[f"| {n} | {_pct(v)} |" for n, v in gil["parts"]],
            "",
            "GIL-holding samples by thread: "
            + ", ".join(f"{n} {_pct(v)}" for n, v in gil["threads"])
            + ".",
        ]
    return "\n".join(lines)


def encoder_round(
    layouts: list[EncoderLayout], questions: list[str], seconds: float, seed: int, server_pid: int
) -> list[dict[str, Any]]:
    """`measure_encoder` for every layout, each figure printed once all are measured."""
    measured = [
        measure_encoder(layout, questions, seconds, seed=seed, server_pid=server_pid)
        for layout in layouts
    ]
    for r in measured:
        print(f"encoder alone, {r['layout']}: {r['sentences_per_second']:.0f}/s")
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per mix")
    parser.add_argument("--warmup", type=float, default=10.0, help="warm-up seconds per mix")
    parser.add_argument(
        "--encoder-seconds", type=float, default=10.0, help="seconds per encoder measurement"
    )
    parser.add_argument(
        "--mixes", default="varied,repeated", help="comma-separated: varied, repeated"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="reuse this data folder (default: a fresh temporary one, deleted after)",
    )
    parser.add_argument(
        "--profile", type=Path, help="also profile a varied run; py-spy's raw stacks go here"
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args()

    questions = kb_questions()
    results: dict[str, Any] = {
        "command": command_line(),
        "machine": machine_description(),
        "date": today(),
        "floor": FLOOR,
    }
    with contextlib.ExitStack() as stack:
        if args.data_dir is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="switchboard-bench-"))
            data_dir = Path(tmp) / "data"
            prepare_data_dir(data_dir)
        else:
            data_dir = args.data_dir.resolve()
        port = free_port()
        process, ready_seconds, _ = start_server(data_dir, port)
        try:
            layouts = encoder_layouts(Settings(data_dir=data_dir))
            embedder = layouts[0].embedder
            before = encoder_round(layouts, questions, args.encoder_seconds, 1, process.pid)
            loads = []
            for number, name in enumerate(args.mixes.split(",")):
                mix = Mix(name, questions, repeated=name == "repeated", seed=100 + number)
                load = run_load(
                    port, process.pid, mix, args.customers, args.warmup, args.seconds
                ).summary()
                print(json.dumps(load), flush=True)
                loads.append(load)
            after = encoder_round(layouts, questions, args.encoder_seconds, 2, process.pid)
            if args.profile:
                mix = Mix("varied", questions, repeated=False, seed=999)
                results["profile"] = run_profiled(
                    port, process.pid, mix, args.customers, args.warmup, args.seconds, args.profile
                )
        finally:
            stop_server(process)
    reference = max(r["sentences_per_second"] for r in [*before, *after])
    results["startup_seconds"] = ready_seconds
    results["encoder"] = {
        "backend": embedder.backend,
        "batch": ENCODER_BATCH,
        "before": before,
        "after": after,
        "reference_sentences_per_second": reference,
    }
    for load in loads:
        load["ratio"] = load["turns_per_second"] / reference
    results["service"] = loads
    text = report(results, args)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.write:
        write_doc_section("throughput", text, path=BENCHMARKS)


if __name__ == "__main__":
    main()
