"""Shared fixtures: the real model (loaded once), apps on a fresh SQLite or PostgreSQL database,
and HTTP clients that drive them through their public API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import IdentitySettings, IntegrationSettings, Settings, bundled_model_path
from app.main import create_app
from app.nlp.embedder import Embedder

REPO = Path(__file__).resolve().parent.parent
SHIPPED_KB = REPO / "knowledge_base"
POSTGRES_URL = os.environ.get("SWITCHBOARD_TEST_DATABASE_URL")
ORDERS_TOKEN = "test-orders-token"
# The secret the test apps and the demo orders service's sign-in share (as `make run` does).
IDENTITY_SECRET = "test-identity-secret"
DEMO_DATA = json.loads((REPO / "scripts" / "demo_data" / "orders.json").read_text("utf-8"))

sys.path.insert(0, str(REPO / "scripts"))
from servicekit import free_port, start_orders_api, stop_server  # noqa: E402


@pytest.fixture(scope="session")
def orders_api() -> Iterator[str]:
    """The demo orders service, started as `make run` starts it (a real HTTP server on
    loopback), requiring a bearer token; yields its base URL. Each test uses its own orders."""
    port = free_port()
    process = start_orders_api(port, token=ORDERS_TOKEN, identity_secret=IDENTITY_SECRET)
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache (ONNX export) for the whole run."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(model_cache: Path) -> Embedder:
    """The bundled model on the ONNX backend, loaded once."""
    return Embedder(bundled_model_path(), backend="onnx", cache_dir=model_cache)


@pytest.fixture(scope="session")
async def seeded_index(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped KB's persisted index, built once; each test's data folder starts with a copy
    so that starting an app does not re-embed the whole knowledge base every time."""
    from app.runtime import Runtime

    root = tmp_path_factory.mktemp("seed")
    settings = make_settings(root)
    runtime = await Runtime.start(settings, embedder=embedder)
    await runtime.stop()
    return settings.index_dir


async def reset_postgres(url: str) -> None:
    """Drop every table of the test database."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: SQLite in the test's folder, or the test PostgreSQL emptied."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'switchboard.db'}"
    if not POSTGRES_URL:
        pytest.skip("set SWITCHBOARD_TEST_DATABASE_URL to run against PostgreSQL (.ci/run does)")
    return POSTGRES_URL


def make_settings(tmp_path: Path, orders_url: str | None = None, **overrides: Any) -> Settings:
    """Settings for a test app in `tmp_path` (shipped KB and intents unless given), calling the
    test orders service at `orders_url` with its token."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "kb_dir": SHIPPED_KB,
        "intents_dir": REPO / "intents",
        "identity": IdentitySettings(secret=IDENTITY_SECRET),
    }
    if orders_url:
        values["integrations"] = {
            "orders": IntegrationSettings(
                base_url=orders_url, headers={"Authorization": f"Bearer {ORDERS_TOKEN}"}
            )
        }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def start_app(
    tmp_path: Path, embedder: Embedder, database_url: str, seeded_index: Path, orders_api: str
) -> Callable[..., Any]:
    """`async with start_app(**settings) as client:` runs an app and gives an HTTP client."""

    reset_done = False

    @asynccontextmanager
    async def _start(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        nonlocal reset_done
        if database_url.startswith("postgresql") and not reset_done:
            await reset_postgres(database_url)
            reset_done = True
        overrides.setdefault("database_url", database_url)
        settings = make_settings(tmp_path, orders_api, **overrides)
        if not settings.index_dir.exists():
            shutil.copytree(seeded_index, settings.index_dir)
        app = create_app(settings, embedder=embedder)
        async with (
            LifespanManager(app, startup_timeout=120, shutdown_timeout=60) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
            ) as client,
        ):
            yield client

    return _start


async def orders_state(orders_api: str, order_number: str) -> dict[str, Any]:
    """The order as the demo orders service holds it now (its back-office view)."""
    auth = {"Authorization": f"Bearer {ORDERS_TOKEN}"}
    async with httpx.AsyncClient() as orders:
        response = await orders.get(f"{orders_api}/state/orders/{order_number}", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def client(start_app: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with default settings and the shipped knowledge base."""
    async with start_app() as c:
        yield c


class LiveServer(str):
    """The base URL of an app served on a real loopback socket (`http://127.0.0.1:<port>`);
    `.app` is the application (for tests that must reach past the API, e.g. the broker)."""

    app: FastAPI

    def ws(self, path: str) -> str:
        """The `ws://` URL of `path` on this server."""
        return "ws" + self.removeprefix("http") + path


@pytest.fixture
def start_server(
    tmp_path: Path, embedder: Embedder, database_url: str, seeded_index: Path, orders_api: str
) -> Callable[..., Any]:
    """`async with start_server(**settings) as base_url:` serves an app with uvicorn on a free
    loopback port, in the test's event loop, for WebSocket clients and real HTTP clients;
    yields its base URL (a `LiveServer`)."""

    reset_done = False

    @asynccontextmanager
    async def _start(**overrides: Any) -> AsyncIterator[LiveServer]:
        nonlocal reset_done
        if database_url.startswith("postgresql") and not reset_done:
            await reset_postgres(database_url)
            reset_done = True
        overrides.setdefault("database_url", database_url)
        settings = make_settings(tmp_path, orders_api, **overrides)
        if not settings.index_dir.exists():
            shutil.copytree(seeded_index, settings.index_dir)
        app = create_app(settings, embedder=embedder)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
            proxy_headers=False,  # as `python -m app serve`: the app reads X-Forwarded-For
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            async with asyncio.timeout(120):
                while not server.started:
                    if task.done():
                        task.result()
                        raise RuntimeError("the server stopped during start-up")
                    await asyncio.sleep(0.02)
            url = LiveServer(f"http://127.0.0.1:{sock.getsockname()[1]}")
            url.app = app
            yield url
        finally:
            server.should_exit = True
            await task
            sock.close()

    return _start


Opened = tuple[str, dict[str, str]]


def owner_of(order_number: str) -> dict[str, str]:
    """The demo customer (id, email, name) who owns `order_number` in the demo orders data."""
    order = next(o for o in DEMO_DATA["orders"] if o["number"] == order_number)
    return next(dict(c) for c in DEMO_DATA["customers"] if c["id"] == order["customer_id"])


def signed(customer: dict[str, str], secret: str = IDENTITY_SECRET) -> dict[str, str]:
    """`customer` with the signature a host site's server computes (hex HMAC-SHA256 of the id),
    written here independently of the service's own code."""
    digest = hmac.new(secret.encode(), customer["id"].encode(), hashlib.sha256).hexdigest()
    return {**customer, "signature": digest}


async def open_conversation(
    client: httpx.AsyncClient, customer: dict[str, str] | None = None
) -> Opened:
    """Create a conversation (as the verified `customer` when given, e.g.
    `signed(owner_of("LS-10042"))`); returns its id and the headers that authenticate as its
    customer."""
    if customer is None:
        response = await client.post("/api/v1/conversations")
    else:
        response = await client.post("/api/v1/conversations", json={"customer": customer})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], {"Authorization": f"Bearer {body['token']}"}


async def ask(
    client: httpx.AsyncClient,
    opened: Opened,
    text: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    """Post a customer message (`extra` goes into the JSON body)."""
    conversation_id, auth = opened
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": text, **extra},
        headers={**auth, **(headers or {})},
    )


Asker = Callable[[str], Awaitable[httpx.Response]]

# The first admin, created at start from settings: `start_app(**ADMIN)`.
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin password 1"
ADMIN = {"admin_email": ADMIN_EMAIL, "admin_password": ADMIN_PASSWORD}
STAFF_PASSWORD = "correct horse 1"


@pytest.fixture
async def admin_client(
    start_app: Callable[..., Any],
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A client of an app started with a first admin (from settings), and the admin's headers."""
    async with start_app(**ADMIN) as client:
        yield client, await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)


async def first_reply(
    client: httpx.AsyncClient, text: str, customer: dict[str, str] | None = None
) -> dict[str, Any]:
    """The bot's reply to `text` as the first message of a new conversation (of the verified
    `customer` when given)."""
    response = await ask(client, await open_conversation(client, customer), text)
    assert response.status_code == 201, response.text
    return response.json()["reply"]  # type: ignore[no-any-return]


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    """Sign in as staff; returns the headers that authenticate as them."""
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def make_staff(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    *,
    email: str,
    name: str,
    role: str,
    password: str = STAFF_PASSWORD,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Create a staff account as an admin and sign in as it; returns the user as the API shows
    it and that user's auth headers."""
    response = await client.post(
        "/api/v1/admin/users",
        json={"email": email, "password": password, "name": name, "role": role},
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    return response.json(), await login(client, email, password)


REDIS_URL = os.environ.get("SWITCHBOARD_TEST_REDIS_URL")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`SWITCHBOARD_TEST_REDIS_URL`, else a redis-server started on a free loopback port
    (skipped when neither is available)."""
    if REDIS_URL:
        yield REDIS_URL
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "no Redis: install redis-server (apt-get install redis-server) or set "
            "SWITCHBOARD_TEST_REDIS_URL to test the Redis broker"
        )
    port = free_port()
    folder: Path = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"redis-server did not start on port {port}") from None
            time.sleep(0.05)
    client.close()
    yield url
    process.terminate()
    process.wait(10)
