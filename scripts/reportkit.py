"""How the scripts in `scripts/` report their figures: the command that ran (as typed from the
repo root), the machine it ran on and the date, percentiles of timings, and the generated
sections of docs/BENCHMARKS.md and docs/EVALUATION.md, which `--write` rewrites in place between
their `<!-- name:start -->` and `<!-- name:end -->` markers.

Light on purpose (the standard library and numpy): the load test and the benchmarks import it
without loading the product's models.
"""

from __future__ import annotations

import math
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO_ROOT / "docs" / "BENCHMARKS.md"
EVALUATION = REPO_ROOT / "docs" / "EVALUATION.md"

# --------------------------------------------------------------------------- what ran, where


def cores() -> int:
    """The CPUs this process may run on (what `nproc` prints)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> str:
    """nproc and CPU model, e.g. "2 CPUs (nproc), Intel(R) Xeon(R) ..."."""
    return f"{cores()} CPUs (nproc), {cpu_model()}"


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command that ran this script (`argv`, by default `sys.argv`), as typed from the repo
    root."""
    args = list(sys.argv if argv is None else argv)
    exe = Path(sys.executable)
    python = str(exe.relative_to(REPO_ROOT)) if exe.is_relative_to(REPO_ROOT) else "python"
    script = Path(args[0]).resolve()
    shown = str(script.relative_to(REPO_ROOT)) if script.is_relative_to(REPO_ROOT) else args[0]
    return shlex.join([python, shown, *args[1:]])


def today() -> str:
    """Today's date (UTC), as the generated sections print it: 2026-11-27."""
    return f"{datetime.now(UTC):%Y-%m-%d}"


def ran_on(command: str | None = None) -> str:
    """The opening of a benchmark section: "`<command>` on <machine>, <date>" (`command` by
    default the one that ran this script)."""
    shown = command_line() if command is None else command
    return f"`{shown}` on {machine_description()}, {today()}"


# --------------------------------------------------------------------------- percentiles


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (linear interpolation) in the unit of `values`; NaN when empty."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    """The q-th percentile in milliseconds of timings in seconds (numpy's linear method)."""
    return float(np.percentile(np.asarray(seconds) * 1000.0, q))


# --------------------------------------------------------------------------- docs sections

EVALUATION_SKELETON = """# Evaluation

Generated sections are rewritten by the scripts named in them; edit only outside the markers.

<!-- stackfaq:start -->
<!-- stackfaq:end -->

<!-- threshold:start -->
<!-- threshold:end -->
"""


def write_doc_section(name: str, content: str, path: Path = EVALUATION) -> None:
    """Replace what lies between `<!-- name:start -->` and `<!-- name:end -->` in `path` (the file
    is created from the evaluation skeleton when missing; the markers are appended when
    absent)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else EVALUATION_SKELETON
    block = f"{start}\n{content.strip()}\n{end}"
    i, j = text.find(start), text.find(end)
    if i >= 0 and j > i:
        text = text[:i] + block + text[j + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def publish(text: str, section: str, *, write: bool, path: Path = BENCHMARKS) -> None:
    """Print a generated section and, with `write` (the scripts' `--write`), put it in its place
    in `path`."""
    print(text)
    if write:
        write_doc_section(section, text, path=path)
