"""The first admin: from settings at start, or `python -m app create-user`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO

LOGIN = "/api/v1/auth/login"


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": password})


async def test_admin_from_settings_is_created_once(start_app: Callable[..., Any]) -> None:
    async with start_app(admin_email=" Boss@Example.com", admin_password="first password") as c:
        response = await _login(c, "boss@example.com", "first password")
        assert response.status_code == 200
        assert response.json()["user"]["role"] == "admin"
    # A restart with another password leaves the existing account alone.
    async with start_app(admin_email="boss@example.com", admin_password="second password") as c:
        assert (await _login(c, "boss@example.com", "second password")).status_code == 401
        response = await _login(c, "BOSS@example.com", "first password")
        assert response.status_code == 200
        headers = {"Authorization": f"Bearer {response.json()['token']}"}
        users = (await c.get("/api/v1/admin/users", headers=headers)).json()
        assert [u["email"] for u in users] == ["boss@example.com"]


async def test_no_admin_settings_means_no_account(client: httpx.AsyncClient) -> None:
    response = await _login(client, "admin@example.com", "admin password 1")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("email", "password", "setting"),
    [
        ("boss@example.com", "short", "SWITCHBOARD_ADMIN_PASSWORD"),
        ("boss", "long enough password", "SWITCHBOARD_ADMIN_EMAIL"),
    ],
    ids=["short-password", "bad-email"],
)
async def test_unusable_admin_settings_stop_the_start(
    start_app: Callable[..., Any], email: str, password: str, setting: str
) -> None:
    with pytest.raises(ValueError, match=setting):
        async with start_app(admin_email=email, admin_password=password):
            pass


def _create_user(
    args: list[str], database_url: str, data_dir: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SWITCHBOARD_DATABASE_URL": database_url,
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_LOG_LEVEL": "warning",
    }
    return subprocess.run(
        [sys.executable, "-m", "app", "create-user", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        start_new_session=True,  # no terminal: the password prompt reads stdin
    )


async def test_create_user_command(
    start_app: Callable[..., Any], database_url: str, tmp_path: Path
) -> None:
    async with start_app() as client:

        def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            return _create_user(args, database_url, tmp_path / "data", stdin)

        made = await asyncio.to_thread(
            run,
            ["--email", "Cli@Example.com", "--name", "Cli Admin", "--role", "admin"],
            "cli password 1\ncli password 1\n",
        )
        assert made.returncode == 0, made.stderr
        assert "created admin cli@example.com" in made.stdout
        assert "cli password 1" not in made.stdout + made.stderr
        response = await _login(client, "cli@example.com", "cli password 1")
        assert response.status_code == 200
        assert response.json()["user"]["name"] == "Cli Admin"

        base = ["--email", "cli@example.com", "--name", "X", "--password", "long enough"]
        taken = await asyncio.to_thread(run, [*base, "--role", "agent"])
        assert taken.returncode == 1
        assert "cli@example.com already exists" in taken.stderr

        bad_role = await asyncio.to_thread(run, [*base, "--role", "owner"])
        assert bad_role.returncode == 2
        assert "owner" in bad_role.stderr

        short = await asyncio.to_thread(
            run, ["--email", "b@example.com", "--name", "B", "--role", "agent", "--password", "x"]
        )
        assert short.returncode == 2
        assert "--password: must be at least 8 characters" in short.stderr
