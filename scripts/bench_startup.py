"""Benchmarks start-up time and resident memory with a large knowledge base, nothing changed.

For each size N (`--sizes`, default 10,000 and 100,000 articles), in a fresh data folder (SQLite)
whose knowledge-base folder is empty (so the N articles are the whole knowledge base):

1. writes N distinct synthetic store articles (`scripts/bench_kb.py`: a title, one alternate
   question and a one-chunk body, so 3 passages each) to JSON files of at most
   `MAX_IMPORT_ARTICLES` (the import's limit), imports them with the real command line
   (`python -m app kb import FILE`, one after the other) and builds the index once with
   `python -m app kb reindex` ("first build": its seconds and passages/s, as it reports them;
   the command's wall time also counts the one-off ONNX export of the fresh data folder);
2. starts the service (`python -m app serve`) once untimed (the first start fits and caches the
   sentiment model, a one-off), then `--runs` times: the wall time from process start to the
   first `/readyz` 200, what `/readyz` says (`startup_seconds`, passages, passages embedded at
   start (must be 0), index kind, index source (must be "disk")), and the resident memory of
   the process at rest (`VmRSS`, and the peak `VmHWM`, from `/proc/PID/status`,
   `--settle` seconds after ready); the median and every run are reported;
3. breaks the start-up down twice: by the service's own log lines in the timed runs (coarse),
   and by one more start under a tracer that times each start-up step by wrapping the app's
   functions (`TRACER` below; the app's code is unchanged, only the timed runs are untraced).

Run from the repo root: `python scripts/bench_startup.py [--sizes 10000,100000] [--json PATH]
[--write] [--keep DIR]`; `--write` updates the generated section of docs/BENCHMARKS.md, `--keep`
keeps each size's data folder in `DIR/articles-N`. Nothing here is quadratic in N; the first
build embeds every passage once (150 to 250 passages/s on the 2-core reference machine: 20 to
35 minutes for the 300,000 passages of 100,000 articles).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from app.kb.imports import MAX_IMPORT_ARTICLES  # noqa: E402
from scripts import servicekit  # noqa: E402
from scripts.bench_kb import synthetic_articles  # noqa: E402
from scripts.reportkit import (  # noqa: E402
    BENCHMARKS,
    command_line,
    machine_description,
    ran_on,
    write_doc_section,
)
from scripts.servicekit import free_port, memory_kb, stop_server  # noqa: E402

SECTION = "startup"
DOC_INTRO = """## Start-up and memory with a large knowledge base (`scripts/bench_startup.py`)

The script imports N synthetic articles into a fresh data folder with `python -m app kb import`,
builds the index once with `python -m app kb reindex`, then starts the real service
(`python -m app serve`) several times with nothing changed and times each start to the first
`/readyz` 200, reading the process's resident memory once it is ready."""

# The start-up steps the tracer times: (key, module, attribute, label, depth). Depth 1 steps
# run one after the other inside `Runtime.start`; depth 2 steps inside the depth 1 step above.
STEPS: list[tuple[str, str, str, str, int]] = [
    ("runtime", "app.runtime", "Runtime.start", "Runtime.start (total)", 0),
    ("migrate", "app.db", "Database.migrate", "database migrations (check)", 1),
    ("encoder", "app.nlp.embedder", "Embedder.from_settings", "load the encoder", 1),
    ("onnx", "app.nlp.embedder", "_OnnxMeanPooling.__init__", "ONNX session and tokenizer", 2),
    ("intents", "app.intents.engine", "IntentEngine.start", "intents: read, encode, fit", 1),
    ("sentiment", "app.nlp.sentiment", "SentimentModel.train", "sentiment model (cached)", 1),
    ("folder", "app.runtime", "load_folder", "read the KB folder (empty)", 1),
    ("sync", "app.kb.service", "sync_folder", "sync it into the database", 1),
    ("published", "app.kb.service", "list_published", "read the published articles", 1),
    ("rebuild", "app.kb.knowledge", "KnowledgeIndex.rebuild", "knowledge index (rebuild)", 1),
    ("store", "app.kb.vector_index", "StoredPassages.load", "read the passage store", 2),
    ("plan", "app.kb.knowledge", "_plan_build", "lay out passages, reuse vectors", 2),
    ("faiss", "app.kb.knowledge", "load_index", "read the FAISS index", 2),
    ("centroids", "app.kb.vector_index", "article_centroids", "article centroids", 2),
]
# What the unaccounted time of a step is, where it is known.
OTHER_LABELS = {
    "encoder": "other (imports, the export's spec)",
    "rebuild": "other",
    "runtime": "other (batcher, sessions, refresher start)",
}

# Run as `python -c TRACER serve --port P`: imports what `serve` imports (timed), wraps the
# functions of BENCH_STARTUP_STEPS so that each call appends {"step", "start", "end"} (epoch
# seconds) to the file BENCH_STARTUP_TRACE, then runs the real command line.
TRACER = r"""
import functools, importlib, inspect, json, os, sys, time
_out = open(os.environ["BENCH_STARTUP_TRACE"], "a", buffering=1)
def _mark(key, began):
    _out.write(json.dumps({"step": key, "start": began, "end": time.time()}) + "\n")
_began = time.time()
import uvicorn, app.cli, app.main
_mark("imports", _began)
def _wrap(fn, key):
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def timed(*args, **kwargs):
            began = time.time()
            try:
                return await fn(*args, **kwargs)
            finally:
                _mark(key, began)
    else:
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            began = time.time()
            try:
                return fn(*args, **kwargs)
            finally:
                _mark(key, began)
    return timed
for _key, _module, _path in json.loads(os.environ["BENCH_STARTUP_STEPS"]):
    try:  # a step missing from the app is left out of the breakdown, not fatal
        _owner = importlib.import_module(_module)
        *_parents, _name = _path.split(".")
        for _parent in _parents:
            _owner = getattr(_owner, _parent)
        _raw = vars(_owner)[_name] if isinstance(_owner, type) else getattr(_owner, _name)
    except (ImportError, AttributeError, KeyError):
        print(f"bench_startup tracer: no {_module}.{_path}", file=sys.stderr)
        continue
    if isinstance(_raw, (classmethod, staticmethod)):
        setattr(_owner, _name, type(_raw)(_wrap(_raw.__func__, _key)))
    else:
        setattr(_owner, _name, _wrap(_raw, _key))
sys.argv = ["app", *sys.argv[1:]]
app.cli.main()
"""

# Log lines of a start (the service's default format: "%(asctime)s %(levelname)s %(name)s: ..."),
# in the order they come, each ending a phase of the coarse breakdown.
LOG_PHASES: list[tuple[str, str]] = [
    ("Context impl", "interpreter, imports, app and uvicorn start, database open"),
    ("intents: ", "migrations, encoder load, intents (encode and fit)"),
    ("knowledge folder ", "sentiment model, KB folder sync, published articles read"),
    ("knowledge index ready", "knowledge index (store, FAISS index, centroids)"),
    ("ready in ", "refresher start"),
]
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


@dataclass
class Start:
    """One start of the service: wall time to ready, what /readyz said, memory at rest."""

    seconds: float
    startup_seconds: float
    passages: int
    embedded: int
    index: str
    index_source: str
    rss_kb: int
    hwm_kb: int
    rss_anon_kb: int
    load_average: float  # 1-minute load average of the machine just before the start
    phases: dict[str, float] = field(default_factory=dict)


@dataclass
class SizeResult:
    """Every figure measured for one knowledge-base size."""

    articles: int
    passages: int
    import_seconds: float
    build_command_seconds: float
    build: dict[str, Any]
    first_start: Start
    starts: list[Start]
    trace: dict[str, float]
    problems: list[str]

    @property
    def ready_p50(self) -> float:
        """Median seconds to ready of the timed starts."""
        return statistics.median(s.seconds for s in self.starts)

    @property
    def load_range(self) -> str:
        """The machine's 1-minute load averages before the timed starts, lowest-highest."""
        loads = [s.load_average for s in self.starts]
        return f"{min(loads):.1f}-{max(loads):.1f}"

    @property
    def rss_p50_kb(self) -> float:
        """Median resident memory at rest (kB) of the timed starts."""
        return statistics.median(s.rss_kb for s in self.starts)

    @property
    def hwm_p50_kb(self) -> float:
        """Median peak resident memory (kB) of the timed starts."""
        return statistics.median(s.hwm_kb for s in self.starts)


def service_env(data_dir: Path, kb_dir: Path) -> dict[str, str]:
    """The environment of every command: this data folder, an empty KB folder, SQLite."""
    env = servicekit.service_env(
        data_dir, {"SWITCHBOARD_KB_DIR": str(kb_dir), "SWITCHBOARD_LOG_LEVEL": "info"}
    )
    env.pop("SWITCHBOARD_REDIS_URL", None)
    return env


def run_cli(args: list[str], env: dict[str, str], log: Path) -> tuple[float, str]:
    """Run `python -m app ARGS` to completion; its seconds and its standard output (its log
    goes to `log`)."""
    started = time.perf_counter()
    with log.open("ab") as err:
        done = subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            check=False,
        )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"`python -m app {' '.join(args)}` failed ({done.returncode}); see {log}")
    return seconds, done.stdout.decode()


def last_json_line(output: str) -> dict[str, Any]:
    """The JSON object a command printed last."""
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise SystemExit(f"no JSON in the command's output: {output[-500:]!r}")


def log_phases(log: Path, launched: float, ready: float) -> dict[str, float]:
    """Seconds of each coarse phase of a start, from the timestamps of its log lines (epoch
    `launched` = process start, `ready` = first /readyz 200); empty when a line is missing."""
    marks: list[float] = []
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    for needle, _ in LOG_PHASES:
        found = next((line for line in lines if needle in line and LOG_TIME.match(line)), None)
        match = LOG_TIME.match(found) if found else None
        if match is None:
            return {}
        moment = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
        marks.append(moment.timestamp())  # logging's asctime is local time, as is this
    bounds = [launched, *marks, ready]
    labels = [label for _, label in LOG_PHASES] + ["uvicorn binds, first /readyz answered"]
    return {label: bounds[i + 1] - bounds[i] for i, label in enumerate(labels)}


def start_service(
    env: dict[str, str], log: Path, *, timeout: float, trace: Path | None = None
) -> tuple[subprocess.Popen[bytes], float, float, dict[str, Any]]:
    """Start `python -m app serve` (or, with `trace`, the same under TRACER) on a free port,
    its output to `log`, and wait for /readyz 200. Returns the process, the epoch time it was
    launched, the seconds to ready and the /readyz answer."""
    port = free_port()
    env = dict(env)
    if trace is None:
        command = [sys.executable, "-m", "app", "serve", "--port", str(port)]
    else:
        env["BENCH_STARTUP_TRACE"] = str(trace)
        env["BENCH_STARTUP_STEPS"] = json.dumps([[k, m, a] for k, m, a, _, _ in STEPS])
        command = [sys.executable, "-c", TRACER, "serve", "--port", str(port)]
    with log.open("wb") as out:
        launched = time.time()
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/readyz"
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}; see {log}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return process, launched, time.perf_counter() - started, response.json()
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    process.kill()
    process.wait()
    raise SystemExit(f"the service was not ready in {timeout:.0f} s; see {log}")


def measure_start(env: dict[str, str], log: Path, args: argparse.Namespace) -> Start:
    """One untraced start: to ready, /readyz, memory at rest, log phases; then stop."""
    load_average = os.getloadavg()[0]
    process, launched, seconds, ready = start_service(env, log, timeout=args.timeout)
    ready_at = launched + seconds
    try:
        time.sleep(args.settle)
        memory = memory_kb(process.pid)
    finally:
        stop_server(process)
    knowledge = ready["knowledge"]
    return Start(
        seconds=seconds,
        startup_seconds=float(ready["startup_seconds"]),
        passages=int(knowledge["passages"]),
        embedded=int(knowledge["embedded_at_last_build"]),
        index=str(knowledge["index"]),
        index_source=str(knowledge["index_source"]),
        rss_kb=memory.get("VmRSS", 0),
        hwm_kb=memory.get("VmHWM", 0),
        rss_anon_kb=memory.get("RssAnon", 0),
        load_average=load_average,
        phases=log_phases(log, launched, ready_at),
    )


def traced_start(env: dict[str, str], folder: Path, args: argparse.Namespace) -> dict[str, float]:
    """Seconds of each start-up step (STEPS keys, summed over calls), from one start under
    TRACER, plus "python" (interpreter start), "imports", "before_runtime" (settings, app,
    uvicorn start) and "after_runtime" (uvicorn binds, first /readyz answered)."""
    trace = folder / "trace.jsonl"
    trace.unlink(missing_ok=True)
    log = folder / "serve-traced.log"
    try:
        process, launched, seconds, _ = start_service(env, log, timeout=args.timeout, trace=trace)
    except SystemExit as exc:  # the figures above stand without the breakdown
        print(f"traced start failed ({exc}); no breakdown", file=sys.stderr)
        return {}
    stop_server(process)
    spans = [json.loads(line) for line in trace.read_text().splitlines() if line.strip()]
    totals: dict[str, float] = {}
    first: dict[str, dict[str, float]] = {}
    for span in spans:
        totals[span["step"]] = totals.get(span["step"], 0.0) + span["end"] - span["start"]
        first.setdefault(span["step"], span)
    if "imports" not in first or "runtime" not in first:
        return {}
    totals["python"] = first["imports"]["start"] - launched
    totals["before_runtime"] = first["runtime"]["start"] - first["imports"]["end"]
    totals["after_runtime"] = launched + seconds - first["runtime"]["end"]
    totals["total"] = seconds
    return totals


def breakdown_rows(trace: dict[str, float]) -> list[tuple[str, float]]:
    """The traced start as (label, seconds) rows in start-up order, nested steps indented and
    each level's unaccounted time as "other"."""
    if not trace:
        return []
    rows = [
        ("Python interpreter start", trace["python"]),
        ("imports (FastAPI app, app modules)", trace["imports"]),
        ("settings, app, uvicorn start", trace["before_runtime"]),
    ]
    children: dict[str, list[str]] = {}
    parent_at: dict[int, str] = {}
    for key, _, _, _, depth in STEPS:
        parent_at[depth] = key
        if depth:
            children.setdefault(parent_at[depth - 1], []).append(key)
    labels = {key: label for key, _, _, label, _ in STEPS}

    def add(key: str, depth: int) -> None:
        rows.append(("  " * depth + labels[key], trace.get(key, 0.0)))
        kids = children.get(key, [])
        for kid in kids:
            add(kid, depth + 1)
        if kids:
            rest = trace.get(key, 0.0) - sum(trace.get(kid, 0.0) for kid in kids)
            rows.append(("  " * (depth + 1) + OTHER_LABELS.get(key, "other"), rest))

    add("runtime", 0)
    rows.append(("uvicorn binds, first /readyz answered", trace["after_runtime"]))
    return rows


def import_and_build(
    count: int, folder: Path, env: dict[str, str]
) -> tuple[float, int, float, dict[str, Any]]:
    """Import `count` synthetic articles into the fresh `folder` with the real CLI and build the
    index once (`kb reindex`): import seconds, articles created, build seconds, build report."""
    folder.mkdir(parents=True)
    kb_dir = folder / "kb"
    kb_dir.mkdir()
    cli_log = folder / "cli.log"
    articles = synthetic_articles(count)
    import_seconds = 0.0
    created = 0
    # One `kb import` takes at most MAX_IMPORT_ARTICLES articles: larger sizes are imported in
    # several files, one after the other (each one transaction).
    for part, first_row in enumerate(range(0, count, MAX_IMPORT_ARTICLES)):
        articles_file = folder / f"articles-{part + 1}.json"
        with articles_file.open("w", encoding="utf-8") as out:
            json.dump({"articles": articles[first_row : first_row + MAX_IMPORT_ARTICLES]}, out)
        seconds, output = run_cli(["kb", "import", str(articles_file)], env, cli_log)
        import_seconds += seconds
        created += int(last_json_line(output)["created"])
        print(f"[{count:,}] imported {articles_file.name} in {seconds:.1f} s: {output.strip()}")
    del articles
    print(f"[{count:,}] first build (kb reindex) ...", flush=True)
    build_seconds, output = run_cli(["kb", "reindex"], env, cli_log)
    build = last_json_line(output)
    print(
        f"[{count:,}] built in {build['seconds']:.1f} s ({build['passages_per_second']} "
        f"passages/s; the command {build_seconds:.1f} s): {build['passages']:,} passages, "
        f"{build['index']}",
        flush=True,
    )
    return import_seconds, created, build_seconds, build


def measure_size(count: int, folder: Path, args: argparse.Namespace) -> SizeResult:
    """Every figure for `count` articles, in the fresh folder `folder`."""
    data_dir, kb_dir = folder / "data", folder / "kb"
    env = service_env(data_dir, kb_dir)
    saved = folder / "build.json"
    if args.reuse and saved.exists():  # a kept folder: time the starts again, skip the build
        kept = json.loads(saved.read_text(encoding="utf-8"))
        import_seconds, created = kept["import_seconds"], kept["created"]
        build_seconds, build = kept["build_seconds"], kept["build"]
        print(f"[{count:,}] reusing the articles and index built in {folder}")
    else:
        import_seconds, created, build_seconds, build = import_and_build(count, folder, env)
        saved.write_text(
            json.dumps(
                {
                    "import_seconds": import_seconds,
                    "created": created,
                    "build_seconds": build_seconds,
                    "build": build,
                }
            ),
            encoding="utf-8",
        )
    first = measure_start(env, folder / "serve-first.log", args)
    print(f"[{count:,}] first start (untimed, fits the sentiment model): {first.seconds:.1f} s")
    starts = []
    for run in range(args.runs):
        start = measure_start(env, folder / f"serve-{run + 1}.log", args)
        starts.append(start)
        print(
            f"[{count:,}] start {run + 1}: ready in {start.seconds:.2f} s (service says "
            f"{start.startup_seconds:.2f} s), {start.embedded} embedded, index {start.index} "
            f"from {start.index_source}, RSS {start.rss_kb / 1024:.0f} MiB "
            f"(peak {start.hwm_kb / 1024:.0f} MiB), load average {start.load_average:.1f}",
            flush=True,
        )
    trace = traced_start(env, folder, args)
    problems = [] if created == count else [f"{count:,} articles: {created:,} imported"]
    for i, start in enumerate([first, *starts]):
        name = "first start" if i == 0 else f"start {i}"
        if start.embedded:
            problems.append(f"{count:,} articles, {name}: {start.embedded} passages embedded")
        if start.index_source != "disk":
            problems.append(f"{count:,} articles, {name}: index source {start.index_source}")
        if start.passages != build["passages"]:
            problems.append(
                f"{count:,} articles, {name}: {start.passages} passages, built {build['passages']}"
            )
    return SizeResult(
        articles=count,
        passages=int(build["passages"]),
        import_seconds=import_seconds,
        build_command_seconds=build_seconds,
        build=build,
        first_start=first,
        starts=starts,
        trace=trace,
        problems=problems,
    )


def mib(kb: float) -> str:
    """kB as whole MiB: "1,986 MiB"."""
    return f"{kb / 1024:,.0f} MiB"


def report(results: list[SizeResult], args: argparse.Namespace) -> str:
    """The Markdown section: the figures per size, then where a start's time goes."""
    runs = args.runs
    lines = [
        "### Start-up with nothing changed, and memory at rest",
        "",
        f"{ran_on()}, SQLite, "
        "an empty KB folder (the imported synthetic articles are the whole knowledge base: a "
        "title, one alternate question and a one-chunk body each). First build: the seconds "
        "`kb reindex` reports (embedding every passage and building the index; its one-off ONNX "
        "export of the fresh data folder is not counted). Time to ready: from process "
        f"start to the first `/readyz` 200, median of {runs} starts (each listed), after one "
        "untimed first start (which fits and caches the sentiment model). RSS: `VmRSS` "
        f"{args.settle:g} s after ready (peak `VmHWM` in brackets), median of the same starts.",
        "",
        "| articles | passages | index | first build (`kb reindex`) | time to ready, p50 "
        "(runs) | embedded at start | index source | RSS at rest (peak) |",
        "|---:|---:|---|---:|---:|---:|---|---:|",
    ]
    for r in results:
        each = ", ".join(f"{s.seconds:.1f}" for s in r.starts)
        embedded = max(s.embedded for s in r.starts)
        sources = "/".join(sorted({s.index_source for s in r.starts}))
        lines.append(
            f"| {r.articles:,} | {r.passages:,} | {r.starts[0].index} | "
            f"{r.build['seconds']:.0f} s ({r.build['passages_per_second']:.0f} passages/s) | "
            f"**{r.ready_p50:.1f} s** ({each}) | {embedded} | {sources} | "
            f"{mib(r.rss_p50_kb)} ({mib(r.hwm_p50_kb)}) |"
        )
    lines += [
        "",
        "Import (`python -m app kb import`, at most "
        f"{MAX_IMPORT_ARTICLES:,} articles a file): "
        + ", ".join(f"{r.import_seconds:.0f} s for {r.articles:,}" for r in results)
        + ". First start after the build (untimed above; it fits the sentiment model once): "
        + ", ".join(f"{r.first_start.seconds:.1f} s ({r.articles:,})" for r in results)
        + ". 1-minute load average of the machine before the timed starts: "
        + ", ".join(f"{r.load_range} ({r.articles:,})" for r in results)
        + ".",
    ]
    traced = [r for r in results if r.trace]
    if traced:
        lines += [
            "",
            "Where a start's time goes (seconds; one more start per size, under a tracer that "
            "times the app's start-up functions by wrapping them):",
            "",
            "| step | " + " | ".join(f"{r.articles:,} articles" for r in traced) + " |",
            "|---|" + "---:|" * len(traced),
        ]
        table = [breakdown_rows(r.trace) for r in traced]
        for i, (label, _) in enumerate(table[0]):
            name = label.strip()
            shown = "&nbsp;" * 4 * ((len(label) - len(label.lstrip())) // 2) + name
            cells = " | ".join(f"{rows[i][1]:.2f}" for rows in table)
            lines.append(f"| {shown} | {cells} |")
        totals = " | ".join(f"**{r.trace['total']:.2f}**" for r in traced)
        lines.append(f"| **to ready** | {totals} |")
    return "\n".join(lines)


def write_doc(text: str, path: Path) -> None:
    """Put `text` in the generated section of `path`, adding the heading the first time."""
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if f"<!-- {SECTION}:start -->" not in current:
        path.write_text(current.rstrip("\n") + "\n\n" + DOC_INTRO + "\n", encoding="utf-8")
    write_doc_section(SECTION, text, path=path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="article counts, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="timed starts per size")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds after ready before reading memory"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds a start may take to be ready"
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    parser.add_argument("--doc", type=Path, default=BENCHMARKS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--keep", type=Path, help="keep each size's data folder in DIR/articles-N (must be new)"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep: time the starts again on folders a previous run built",
    )
    args = parser.parse_args()
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()]
    if not sizes or min(sizes) < 1 or args.runs < 1:
        parser.error("--sizes needs positive counts and --runs at least 1")

    if args.keep and not args.reuse:
        taken = [f for f in (args.keep / f"articles-{n}" for n in sizes) if f.exists()]
        if taken:
            parser.error(f"{taken[0]} exists: --keep needs a folder without it (or --reuse)")
    if args.reuse and not args.keep:
        parser.error("--reuse needs --keep DIR")

    results = []
    with tempfile.TemporaryDirectory(prefix="switchboard-startup-") as tmp:
        base = args.keep.resolve() if args.keep else Path(tmp)
        for count in sizes:
            results.append(measure_size(count, base / f"articles-{count}", args))
            if args.json:  # after each size, so a long run keeps what it measured
                payload = {
                    "command": command_line(),
                    "machine": machine_description(),
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "sizes": [{**asdict(r), "ready_p50": r.ready_p50} for r in results],
                }
                args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")

    text = report(results, args)
    print()
    print(text)
    print()
    for r in results:
        print(f"{r.articles:,} articles, phases by log lines (median of {args.runs} starts, s):")
        labels = [label for s in r.starts for label in s.phases]
        for label in dict.fromkeys(labels):
            values = [s.phases[label] for s in r.starts if label in s.phases]
            print(f"  {statistics.median(values):7.2f}  {label}")
    problems = [p for r in results for p in r.problems]
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    if args.write:
        write_doc(text, args.doc)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
