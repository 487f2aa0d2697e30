"""`python -m app kb import | export | reindex`, run as an admin runs them (a subprocess on the
configured database and data folder, no server), and a running server picking up a CLI import."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import REPO, SHIPPED_KB, ask, open_conversation

GOOD_CSV = (
    "title,body,questions,tags,status,slug\n"
    'Llama blankets,"Three sizes.\n\nShips in two days.",llama blanket|wool blanket,products,,\n'
    "Alpaca socks,Next season.,,,draft,socks/alpaca\n"
)
BAD_CSV = "title,body,status\nFine,Body.,\n,No title.,\nBad status,Body.,live\n"


def run_cli(
    args: list[str], data_dir: Path, models: Path, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m app ARGS` with its data in `data_dir` (the session's ONNX export linked in)."""
    env = {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_KB_DIR": str(SHIPPED_KB),
        "SWITCHBOARD_LOG_LEVEL": "warning",
    }
    env.pop("SWITCHBOARD_DATABASE_URL", None)
    if database_url:
        env["SWITCHBOARD_DATABASE_URL"] = database_url
    (data_dir / "models").mkdir(parents=True, exist_ok=True)
    for exported in models.iterdir():
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


def test_import_export_and_reindex_from_the_command_line(
    tmp_path: Path, model_cache: Path, embedder: object
) -> None:
    data = tmp_path / "data"
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV, encoding="utf-8")
    refused = run_cli(["kb", "import", str(bad)], data, model_cache)
    assert refused.returncode == 1
    assert "2 of 3 rows are invalid" in refused.stderr
    assert "row 3: title:" in refused.stderr and "row 4: status:" in refused.stderr

    good = tmp_path / "articles.csv"
    good.write_text(GOOD_CSV, encoding="utf-8")
    dry = run_cli(["kb", "import", str(good), "--dry-run"], data, model_cache)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["created"] == 2 and json.loads(dry.stdout)["dry_run"]
    done = run_cli(["kb", "import", str(good)], data, model_cache)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"] == 2

    exported = tmp_path / "kb.zip"
    result = run_cli(["kb", "export", str(exported)], data, model_cache)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(exported) as archive:
        assert sorted(archive.namelist()) == ["llama-blankets.md", "socks/alpaca.md"]
    again = run_cli(["kb", "import", str(exported)], data, model_cache)
    assert json.loads(again.stdout)["unchanged"] == 2

    unknown = run_cli(
        ["kb", "import", str(tmp_path / "bad.csv"), "--format", "xml"], data, model_cache
    )
    assert unknown.returncode == 2

    first = run_cli(["kb", "reindex"], data, model_cache)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["articles"] == 1, "only the published article is indexed"
    assert report["embedded"] == report["passages"] > 0
    assert (data / "index" / "passages.npz").exists()
    second = json.loads(run_cli(["kb", "reindex"], data, model_cache).stdout)
    assert second["embedded"] == 0, "nothing is missing"
    full = json.loads(run_cli(["kb", "reindex", "--full"], data, model_cache).stdout)
    assert full["embedded"] == full["passages"] == report["passages"]
    assert sorted(p.name for p in (data / "index").iterdir()) == [
        "passages.faiss",
        "passages.faiss.json",
        "passages.npz",
    ]  # the store and its FAISS index, and no leftover build folder


async def test_a_running_server_picks_up_a_command_line_import(
    start_app: Callable[..., Any], tmp_path: Path, model_cache: Path, database_url: str
) -> None:
    articles = tmp_path / "llama.json"
    articles.write_text(
        json.dumps(
            {
                "articles": [
                    {
                        "title": "Do you sell llama wool blankets?",
                        "body": "Yes: llama wool blankets in three sizes, shipped in two days.",
                        "questions": ["do you have blankets made of llama wool"],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    async with start_app(kb_poll_seconds=0.2) as client:
        result = await asyncio.to_thread(
            run_cli,
            ["kb", "import", str(articles)],
            tmp_path / "data",
            model_cache,
            database_url,
        )
        assert result.returncode == 0, result.stderr
        for _ in range(100):
            response = await ask(client, await open_conversation(client), "llama wool blankets?")
            if "three sizes" in response.json()["reply"]["text"]:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the server never answered from the imported article")
