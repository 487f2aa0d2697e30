"""Shared pieces of the browser tests: Debian's Chromium, and the real service started as a
user starts it, with a first admin, reusing the session's model export and seeded index."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from scripts.servicekit import free_port, start_server, stop_server

CHROMIUM = os.environ.get("SWITCHBOARD_TEST_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


def inject_axe(page: Any) -> None:
    """Load axe-core into `page` through the DevTools protocol: the pages' CSP refuses inline
    scripts, so a <script> tag (Playwright's add_script_tag) would be blocked."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text())


needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no browser at {CHROMIUM} (apt-get install chromium)"
)


@contextmanager
def served(
    tmp_path_factory: pytest.TempPathFactory,
    model_cache: Path,
    seeded_index: Path,
    *,
    name: str,
    admin_email: str,
    admin_password: str,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """`python -m app serve` on a free loopback port with its own data folder (a copy of the
    seeded index, the shared ONNX export), a first admin and the `SWITCHBOARD_*` variables of
    `env`; yields its base URL."""
    data_dir = tmp_path_factory.mktemp(name) / "data"
    shutil.copytree(seeded_index, data_dir / "index")
    (data_dir / "models").mkdir()
    for exported in model_cache.iterdir():
        (data_dir / "models" / exported.name).symlink_to(exported)
    port = free_port()
    process, _, _ = start_server(
        data_dir,
        port,
        env_overrides={
            "SWITCHBOARD_ADMIN_EMAIL": admin_email,
            "SWITCHBOARD_ADMIN_PASSWORD": admin_password,
            **(env or {}),
        },
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)
