"""Helpers for scripts and tests that drive the real service: prepare a new data folder once,
start `python -m app serve` on a free loopback port with its own data folder, wait until
`/readyz` says ready, stop it; start the demo orders service the demo intents call; and the
Chromium flags that work on this project's machines."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent

# Headless Chromium as root, on a machine with no network beyond loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(data_dir: Path, env_overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a service (or command) using `data_dir` and the overrides."""
    env = {**os.environ, "SWITCHBOARD_DATA_DIR": str(data_dir), "SWITCHBOARD_LOG_LEVEL": "warning"}
    env.pop("SWITCHBOARD_DATABASE_URL", None)
    env.update(env_overrides or {})
    return env


def prepare_data_dir(data_dir: Path, env_overrides: dict[str, str] | None = None) -> None:
    """Do a new data folder's one-off work before the service starts on it, as the Dockerfile
    does at build time (`python -m app kb sync`: export the encoder to ONNX and check its
    direct path, embed the knowledge base), so that the measured service starts as every
    later start does (without sentence-transformers and torch loaded)."""
    subprocess.run(
        [sys.executable, "-m", "app", "kb", "sync"],
        cwd=REPO_ROOT,
        env=service_env(data_dir, env_overrides),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start_server(
    data_dir: Path,
    port: int,
    *,
    timeout: float = 180.0,
    env_overrides: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], float, dict[str, Any]]:
    """Start the service on `port` with `data_dir` (and `SWITCHBOARD_*` overrides); returns the
    process, the seconds until `/readyz` said ready, and that answer."""
    env = service_env(data_dir, env_overrides)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)], cwd=REPO_ROOT, env=env
    )
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
            if response.status_code == 200:
                return process, time.perf_counter() - started, response.json()
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server did not become ready in {timeout:.0f} s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop the service and wait for it."""
    process.terminate()
    process.wait(timeout=30)


def start_orders_api(
    port: int, *, token: str | None = None, timeout: float = 30.0
) -> subprocess.Popen[bytes]:
    """Start the demo orders service (`scripts/demo_orders_api.py`) on `port` and wait until it
    answers; `token` makes it require `Authorization: Bearer <token>`."""
    env = {**os.environ}
    env.pop("DEMO_ORDERS_TOKEN", None)
    if token:
        env["DEMO_ORDERS_TOKEN"] = token
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "scripts" / "demo_orders_api.py"), "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
    )
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"orders API exited with {process.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", headers=headers, timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"orders API did not start in {timeout:.0f} s")
