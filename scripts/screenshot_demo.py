"""Takes the README's screenshots of the demo store with the chat widget, in a real browser.

Starts the service (`python -m app serve`) on loopback with a fresh data folder, opens the demo
page in Debian's Chromium through Playwright, asks the bot two questions through the widget and
saves `docs/screenshots/demo-desktop.png` and `docs/screenshots/demo-phone.png`.

Run from the repo root: `python scripts/screenshot_demo.py [--chromium /usr/bin/chromium]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts.servicekit import CHROMIUM_ARGS, free_port, start_server, stop_server  # noqa: E402

OUT = REPO_ROOT / "docs" / "screenshots"


def chat(page: Page, questions: list[str]) -> None:
    """Open the widget and ask `questions`, waiting for each reply."""
    page.get_by_role("button", name="Open chat").click()
    box = page.get_by_role("textbox", name="message")
    for number, question in enumerate(questions, start=1):
        box.fill(question)
        box.press("Enter")
        page.locator("#switchboard-widget .msg.bot").nth(number).wait_for(timeout=15_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="browser executable")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="switchboard-shot-") as tmp:
        port = free_port()
        process, _, _ = start_server(Path(tmp) / "data", port)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=args.chromium, args=CHROMIUM_ARGS
                )
                url = f"http://127.0.0.1:{port}/"
                desktop = browser.new_page(viewport={"width": 1280, "height": 800})
                desktop.goto(url)
                chat(desktop, ["how long until I get my refund?", "what's the weather on mars"])
                desktop.screenshot(path=str(OUT / "demo-desktop.png"))
                phone = browser.new_page(viewport={"width": 390, "height": 844})
                phone.goto(url)
                chat(phone, ["can I pay with Klarna?"])
                phone.screenshot(path=str(OUT / "demo-phone.png"))
                browser.close()
        finally:
            stop_server(process)
    print(f"saved {OUT / 'demo-desktop.png'} and {OUT / 'demo-phone.png'}")


if __name__ == "__main__":
    main()
