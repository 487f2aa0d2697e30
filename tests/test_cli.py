"""The command line, run as a user runs it: `python -m app ...` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import REPO, SHIPPED_KB, ask, open_conversation


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
    for command in ("serve", "migrate", "ask", "replay", "eval", "kb"):
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


def _replay(args: list[str], data_dir: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SWITCHBOARD_DATA_DIR": str(data_dir), "SWITCHBOARD_LOG_LEVEL": "warning"}
    env["SWITCHBOARD_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "app", "replay", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_replay_shows_what_other_thresholds_would_change(
    start_app: Callable[..., Any], database_url: str, tmp_path: Path
) -> None:
    async with start_app() as client:
        opened = await open_conversation(client)
        for text in (
            "how long does a refund take?",
            "can I pay with Klarna?",
            "where is my order?",
        ):
            assert (await ask(client, opened, text)).status_code == 201

    stricter = _replay(
        ["--since", "2000-01-01", "--set", "answer_threshold=0.99"], tmp_path / "data", database_url
    )
    assert stricter.returncode == 0, stricter.stderr
    report = json.loads(stricter.stdout[stricter.stdout.index("{") :])
    assert report["turns"] == 3
    assert report["before"]["answer"] == 2
    # The Klarna answer (score ~0.83) flips to a clarify; the exact match (1.0) still answers.
    assert report["after"]["answer"] == 1
    assert report["flipped"] == 1
    assert (report["flips"][0]["before"], report["flips"][0]["after"]) == ("answer", "clarify")
    assert "| answer | 2 (66.7%) | 1 (33.3%) | -1 |" in stricter.stdout

    unchanged = _replay(["--since", "2000-01-01"], tmp_path / "data", database_url)
    assert json.loads(unchanged.stdout[unchanged.stdout.index("{") :])["flipped"] == 0

    bad = _replay(["--since", "2000-01-01", "--set", "nope=1"], tmp_path / "data", database_url)
    assert bad.returncode == 2 and "not a policy setting" in bad.stderr
    bad_date = _replay(["--since", "last tuesday"], tmp_path / "data", database_url)
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr


def _write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["text,label", *[f'"{text}",{label}' for text, label in rows]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_eval_intents_and_retrieval_report_on_csv_files(tmp_path: Path, model_cache: Path) -> None:
    train = _write_csv(
        tmp_path / "train.csv",
        [(t, "order") for t in ("where is my order", "track my parcel", "has it shipped yet")]
        + [(t, "refund") for t in ("I want my money back", "refund me", "give me a refund")]
        + [("what is the weather on mars", "oos")],
    )
    test = _write_csv(
        tmp_path / "test.csv",
        [
            ("where's my package", "order"),
            ("please refund my purchase", "refund"),
            ("who won the football game", "oos"),
        ],
    )
    report = tmp_path / "intents.json"
    result = _run(
        [
            "eval",
            "intents",
            "--train",
            str(train),
            "--test",
            str(test),
            "--oos-label",
            "oos",
            "--out",
            str(report),
        ],
        tmp_path / "data",
        model_cache,
    )
    assert result.returncode == 0, result.stderr
    assert "| in-scope acc |" in result.stdout
    figures = json.loads(report.read_text())
    assert (figures["in_scope"], figures["out_of_scope"]) == (2, 1)
    assert figures["accuracy_without_rejection"] == 1.0

    questions = _write_csv(
        tmp_path / "questions.csv",
        [("can I split my payment with klarna?", "klarna"), ("what's the capital of peru", "oos")],
    )
    retrieval = _run(
        [
            "eval",
            "retrieval",
            "--kb",
            str(SHIPPED_KB),
            "--test",
            str(questions),
            "--out",
            str(tmp_path / "retrieval.json"),
        ],
        tmp_path / "data",
        model_cache,
    )
    assert retrieval.returncode == 0, retrieval.stderr
    assert json.loads((tmp_path / "retrieval.json").read_text())

    bad = _write_csv(tmp_path / "bad.csv", [])
    bad.write_text("question,answer\nx,y\n", encoding="utf-8")
    refused = _run(
        ["eval", "intents", "--train", str(bad), "--test", str(test)], tmp_path, model_cache
    )
    assert refused.returncode == 2 and "text,label" in refused.stderr
