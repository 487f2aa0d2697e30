"""Disk full and read-only data, made real with small tmpfs mounts and read-only bind mounts
(root only: skipped with the reason otherwise): the API names the problem and the path, /readyz
reports degraded with each failing check and recovers when the cause goes away, and a start on
a folder that cannot be written exits with a message naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_EMAIL, ADMIN_PASSWORD, REPO, ask, login, open_conversation


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


def _unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def _need_mounts() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs or a read-only bind mount")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """The test's data folder on a 48 MiB tmpfs of its own."""
    _need_mounts()
    data = tmp_path / "data"
    data.mkdir()
    mounted = _mount("-t", "tmpfs", "-o", "size=48m", "tmpfs", str(data))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield data
    _unmount(data)


def _fill(folder: Path) -> Path:
    """Fill the disk holding `folder` to the last byte; returns the file to delete to free it."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as out:
        chunk = b"\0" * (1 << 20)
        try:
            while True:
                out.write(chunk)
                out.flush()
        except OSError:
            pass
        try:
            while True:  # the last partial megabyte
                out.write(b"\0" * 4096)
                out.flush()
        except OSError:
            pass
    return filler


def _read_only(folder: Path) -> None:
    """Make `folder` a read-only bind mount of itself (root ignores file permissions)."""
    bound = _mount("--bind", str(folder), str(folder))
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bound.stderr.strip()}")
    remounted = _mount("-o", "remount,ro,bind", str(folder))
    if remounted.returncode != 0:
        _unmount(folder)
        pytest.skip(f"cannot remount read-only here: {remounted.stderr.strip()}")


async def _readyz(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    return response.status_code, response.json()


async def test_a_full_disk_is_named_with_its_path_and_readyz_recovers(
    start_app: Callable[..., Any], small_disk: Path, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the database's own disk is SQLite's; PostgreSQL's is the server's")
    async with start_app() as client:
        opened = await open_conversation(client)
        assert (await ask(client, opened, "hello")).status_code == 201
        assert (await _readyz(client))[0] == 200

        filler = _fill(small_disk)
        status, ready = await _readyz(client)
        assert status == 503 and ready["status"] == "degraded"
        assert {"database", "knowledge_index"} <= set(ready["failing"])
        database = ready["checks"]["database"]
        assert database["problem"] == "disk_full" and database["path"] == str(small_disk)
        assert "is full" in database["message"] and "free space" in database["message"]

        refused = None
        words = "my parcel has not arrived and I would like to know where it is " * 12
        for n in range(1000):  # until the database's files need room (the WAL reuses its own)
            response = await ask(client, opened, f"{n}: {words}")
            if response.status_code != 201:
                refused = response
                break
        assert refused is not None, "1,000 messages stored on a full disk"
        assert refused.status_code == 507, refused.text
        error = refused.json()["error"]
        assert error["code"] == "insufficient_storage" and error["problem"] == "disk_full"
        assert str(small_disk / "switchboard.db") in error["message"]
        assert "busy" not in error["message"]

        filler.unlink()
        status, ready = await _readyz(client)
        assert status == 200, ready
        assert ready["status"] == "ready" and "failing" not in ready
        assert (await ask(client, opened, "and now?")).status_code == 201


async def test_a_read_only_index_folder_still_serves_new_articles_and_readyz_says_so(
    start_app: Callable[..., Any], tmp_path: Path
) -> None:
    _need_mounts()
    index_dir = tmp_path / "data" / "index"
    async with start_app(**ADMIN) as client:
        admin = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        _read_only(index_dir)
        try:
            status, ready = await _readyz(client)
            assert status == 503 and ready["failing"] == ["knowledge_index"], ready
            check = ready["checks"]["knowledge_index"]
            assert check["problem"] == "read_only" and check["path"] == str(index_dir)

            created = await client.post(
                "/api/v1/admin/kb/articles?wait=true",
                json={
                    "title": "Do you rent out canoes?",
                    "body": "Yes, from our riverside shop, 40 USD a day.",
                    "questions": ["can I hire a canoe"],
                },
                headers=admin,
            )
            assert created.status_code == 201, created.text
            opened = await open_conversation(client)
            reply = (await ask(client, opened, "can I hire a canoe?")).json()["reply"]
            assert reply["kind"] == "answer" and "40 USD" in reply["text"]
            status, ready = await _readyz(client)
            assert status == 503 and ready["failing"] == ["knowledge_index"]
        finally:
            _unmount(index_dir)
        status, ready = await _readyz(client)  # the pending index is written now
        assert status == 200, ready
    async with start_app(**ADMIN) as client:  # and was persisted: nothing to embed again
        status, ready = await _readyz(client)
        assert status == 200 and ready["knowledge"]["embedded_at_last_build"] == 0


def _serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env={**os.environ, "SWITCHBOARD_LOG_LEVEL": "warning", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_start_on_a_read_only_data_folder_exits_naming_it(tmp_path: Path) -> None:
    _need_mounts()
    data = tmp_path / "data"
    data.mkdir()
    mounted = _mount("-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(data))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        for args in (["serve", "--port", "1"], ["migrate"]):
            done = _serve({"SWITCHBOARD_DATA_DIR": str(data)}, *args)
            assert done.returncode == 2, done.stderr
            assert f"{data} is read-only" in done.stderr
            assert "make it writable" in done.stderr
            assert "Traceback" not in done.stderr
        # Only the database's folder read-only (the data folder fine): named the same way.
        other = tmp_path / "other"
        done = _serve(
            {
                "SWITCHBOARD_DATA_DIR": str(other),
                "SWITCHBOARD_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'switchboard.db'}",
            },
            "migrate",
        )
        assert done.returncode == 2 and f"{data}" in done.stderr, done.stderr
        assert "unable to open database file" not in done.stderr.splitlines()[0]
    finally:
        _unmount(data)
