"""The API against its own OpenAPI schema, fuzzed with schemathesis (`scripts/fuzzkit.py`):
every operation with the credential it is meant for (a customer's conversation token, an agent
and an admin signed in through the real login), positive and negative inputs, and a method
each path does not serve. No 5xx, no status the schema does not document, and every stateless
check (status code, content type, headers, response schema) passes.

One app on a real loopback socket for the whole module (schemathesis calls it over HTTP from
this thread; uvicorn serves it from its own), few examples per operation: `make test` stays
fast. `scripts/fuzz_api.py` runs the same with more examples and writes docs/SECURITY.md."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.config import Settings
from app.main import create_app
from app.nlp.embedder import Embedder
from scripts.fuzzkit import fuzz_api, sign_in_all
from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, make_settings

# Examples per operation and generation mode: about 700 requests in all.
EXAMPLES = 5


@pytest.fixture(scope="module")
def served(
    embedder: Embedder,
    seeded_index: Path,
    orders_api: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """An app with a first admin, served by uvicorn in a thread on a free loopback port."""
    overrides: dict[str, Any] = dict(ADMIN)
    if "rate_limits" in Settings.model_fields:  # the fuzzer sends more than a client may
        overrides["rate_limits"] = {"enabled": False}
    settings = make_settings(tmp_path_factory.mktemp("fuzz"), orders_api, **overrides)
    shutil.copytree(seeded_index, settings.index_dir)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(settings, embedder=embedder), log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 180
    while not server.started:
        assert thread.is_alive(), "the server stopped during start-up"
        assert time.monotonic() < deadline, "the server did not start in 180 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(60)
        sock.close()


def test_every_operation_answers_as_its_schema_says(served: str) -> None:
    credentials = sign_in_all(served, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    report = fuzz_api(served, credentials, examples=EXAMPLES)
    assert report.operations >= 40
    assert report.cases >= report.operations * EXAMPLES
    assert report.server_errors == []
    assert sorted(report.undocumented) == []
    assert sorted(report.failures) == []
    # The tokens opened what they are for: not everything was refused.
    assert report.statuses.get(200, 0) + report.statuses.get(201, 0) > report.operations
