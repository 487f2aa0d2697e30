"""The command line, run as a user runs it: `python -m app ...` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, SHIPPED_KB


def _run(args: list[str], data_dir: Path, models: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_KB_DIR": str(SHIPPED_KB),
        "SWITCHBOARD_LOG_LEVEL": "warning",
    }
    env.pop("SWITCHBOARD_DATABASE_URL", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "models").mkdir(exist_ok=True)
    for exported in models.iterdir():  # reuse the session's ONNX export
        target = data_dir / "models" / exported.name
        if not target.exists():
            target.symlink_to(exported)
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_help_lists_every_command(tmp_path: Path, model_cache: Path) -> None:
    result = _run(["--help"], tmp_path, model_cache)
    assert result.returncode == 0
    for command in ("serve", "migrate", "ask", "kb"):
        assert command in result.stdout
    serve_help = _run(["serve", "--help"], tmp_path, model_cache)
    assert "--host" in serve_help.stdout
    assert "--port" in serve_help.stdout


def test_migrate_kb_sync_and_ask(tmp_path: Path, model_cache: Path, embedder: object) -> None:
    assert _run(["migrate"], tmp_path, model_cache).returncode == 0
    assert (tmp_path / "switchboard.db").exists()

    synced = _run(["kb", "sync"], tmp_path, model_cache)
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert report["articles"] >= 40
    assert report["embedded"] == report["passages"]

    again = json.loads(_run(["kb", "sync"], tmp_path, model_cache).stdout)
    assert again["embedded"] == 0, "a second sync with unchanged content must not re-embed"

    asked = _run(["ask", "can I pay with Klarna?"], tmp_path, model_cache)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["kind"] == "answer"
    assert answer["decision"]["reason"] == "kb_match"
    assert "Klarna" in answer["sources"][0]["title"]
