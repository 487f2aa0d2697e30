"""Helpers for scripts and tests that drive the real service: prepare a new data folder once,
start `python -m app serve` on a free loopback port with its own data folder, wait until
`/readyz` says ready, read its memory, stop it (`fresh_service` does all of it around a block,
in a temporary data folder); start the demo orders service the demo intents call; sign in over
the API and create agents; read the stage timings of the service's `Server-Timing` header; and
the Chromium flags that work on this project's machines."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
    """The environment of a service (or command) using `data_dir` and the overrides. The limits
    on abuse are off unless the overrides turn them on: a benchmark floods from one address."""
    env = {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_LOG_LEVEL": "warning",
        "SWITCHBOARD_RATE_LIMITS__ENABLED": "false",
    }
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


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM and RssAnon of a process, in kB (from /proc/PID/status)."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon"):
            values[name] = int(rest.split()[0])
    return values


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop the service and wait for it."""
    process.terminate()
    process.wait(timeout=30)


@dataclass
class Service:
    """A service started by `fresh_service`: its process, port, seconds to ready and the first
    `/readyz` answer."""

    process: subprocess.Popen[bytes]
    port: int
    ready_seconds: float
    ready: dict[str, Any]

    @property
    def url(self) -> str:
        """Its base URL on loopback."""
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def fresh_service(
    env_overrides: dict[str, str] | None = None,
    *,
    prefix: str | None = None,
    prepare: bool = False,
) -> Iterator[Service]:
    """The service on a free loopback port with a new data folder `data` in a temporary folder
    (named with `prefix`), for the block; then stopped and the folder deleted. With `prepare`,
    `prepare_data_dir` does the data folder's one-off work first."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        data_dir = Path(tmp) / "data"
        port = free_port()
        if prepare:
            prepare_data_dir(data_dir, env_overrides)
        process, seconds, ready = start_server(data_dir, port, env_overrides=env_overrides)
        try:
            yield Service(process, port, seconds, ready)
        finally:
            stop_server(process)


def bearer(token: str) -> dict[str, str]:
    """The `Authorization` header carrying `token`."""
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    """Sign in through POST /api/v1/auth/login; the headers of the session (raises on failure)."""
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return bearer(response.json()["token"])


def agent_account(email: str, password: str, name: str) -> dict[str, str]:
    """The body of POST /api/v1/admin/users creating an agent."""
    return {"email": email, "password": password, "name": name, "role": "agent"}


def add_server_timing(stages: dict[str, list[float]], header: str) -> None:
    """Append each stage's milliseconds of a `Server-Timing` header ("name;dur=1.2, ...") to
    `stages`."""
    for part in header.split(", "):
        stage, _, duration = part.partition(";dur=")
        if duration:
            stages.setdefault(stage, []).append(float(duration))


def start_orders_api(
    port: int,
    *,
    token: str | None = None,
    identity_secret: str | None = None,
    timeout: float = 30.0,
    test_controls: bool = False,
) -> subprocess.Popen[bytes]:
    """Start the demo orders service (`scripts/demo_orders_api.py`) on `port` and wait until it
    answers; `token` makes it require `Authorization: Bearer <token>`, `identity_secret` lets
    its demo sign-in sign customers (the chat service's SWITCHBOARD_IDENTITY__SECRET);
    `test_controls` adds its `/_test/` routes (a stall, the paths it received)."""
    env = {**os.environ}
    env.pop("DEMO_ORDERS_TOKEN", None)
    env.pop("DEMO_IDENTITY_SECRET", None)
    if token:
        env["DEMO_ORDERS_TOKEN"] = token
    extra = ["--test-controls"] if test_controls else []
    if identity_secret:
        env["DEMO_IDENTITY_SECRET"] = identity_secret
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO_ROOT / "scripts" / "demo_orders_api.py"),
            "--port",
            str(port),
            *extra,
        ],
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
