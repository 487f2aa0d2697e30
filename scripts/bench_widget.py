"""Measures the widget's weight and how fast it is ready on the demo page.

Reports the size of the script served at /widget.js (`app/web/widget.js` with the shared
Markdown renderer inlined, see `app/widget_script.py`; raw and gzipped at level 9, as a web
server would send it), then starts the service (`python -m app serve`) on loopback, opens the
demo page `--loads` times in Debian's Chromium through Playwright (a fresh browser context each
time, so nothing is cached) and times navigation start to the launcher button being visible.

Run from the repo root: `python scripts/bench_widget.py [--loads 20] [--write]`; `--write`
updates the generated section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from app import widget_script  # noqa: E402
from app.main import WEB_DIR  # noqa: E402
from scripts.reportkit import percentile_ms, publish, ran_on  # noqa: E402
from scripts.servicekit import CHROMIUM_ARGS, fresh_service  # noqa: E402


def launcher_times(base_url: str, loads: int, chromium: str) -> list[float]:
    """Seconds from navigation start to the visible launcher, one fresh context per load."""
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for _ in range(loads + 1):  # the first load warms the server and is not counted
            context = browser.new_context()
            page = context.new_page()
            started = time.perf_counter()
            page.goto(base_url)
            page.get_by_role("button", name="chat").wait_for(state="visible")
            times.append(time.perf_counter() - started)
            context.close()
        browser.close()
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args()
    script = widget_script.build(WEB_DIR).text.encode("utf-8")
    gzipped = len(gzip.compress(script, 9))
    with fresh_service() as service:
        times = launcher_times(service.url, args.loads, args.chromium)
    text = "\n".join(
        [
            "### Widget: size and time to ready",
            "",
            f"{ran_on()}, Chromium on loopback, a fresh browser context per load.",
            "",
            "| Figure | Value |",
            "|---|---|",
            f"| `widget.js` size, raw / gzipped | {len(script):,} / **{gzipped:,}** bytes |",
            f"| Page load to launcher ready, p50 ({len(times)} loads) "
            f"| {percentile_ms(times, 50):.0f} ms |",
            f"| Page load to launcher ready, p95 | {percentile_ms(times, 95):.0f} ms |",
        ]
    )
    publish(text, "widget", write=args.write)


if __name__ == "__main__":
    main()
