"""`python -m app test conversations`, run as a user runs it (a subprocess with the settings
`serve` would read): the table, the reasons, the JSON, the exit codes, and that the data
folder's database is never touched (the run has its own scratch one)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, SHIPPED_KB
from tests.conversation_suites.suites import FAILING, PASSING


def _run(
    args: list[str], data_dir: Path, models: Path, index: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_KB_DIR": str(SHIPPED_KB),
        "SWITCHBOARD_LOG_LEVEL": "warning",
    }
    env.pop("SWITCHBOARD_DATABASE_URL", None)
    if not data_dir.exists():
        data_dir.mkdir(parents=True)
        shutil.copytree(index, data_dir / "index")
        (data_dir / "models").mkdir()
        for exported in models.iterdir():  # reuse the session's ONNX export
            (data_dir / "models" / exported.name).symlink_to(exported)
    return subprocess.run(
        [sys.executable, "-m", "app", "test", "conversations", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_failing_suite_prints_each_reason_writes_json_and_exits_1(
    tmp_path: Path, model_cache: Path, seeded_index: Path
) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "passing.yaml").write_text(PASSING, "utf-8")
    (suites / "failing.yaml").write_text(FAILING, "utf-8")
    data = tmp_path / "data"
    out = tmp_path / "run.json"

    result = _run([str(suites), "--json", str(out)], data, model_cache, seeded_index)

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("FAIL") and "canada is not the return policy" in line for line in lines
    )
    assert any(line.startswith("PASS") and "canada, then a person" in line for line in lines)
    assert "expected article how-to-start-a-return, got answer shipping-to-canada" in result.stdout
    assert "expected the reply not to contain 'canada'" in result.stdout
    assert "expected no handoff, got handoff (explicit_request)" in result.stdout
    assert "not run: the bot handed off at turn 2" in result.stdout

    run = json.loads(out.read_text("utf-8"))
    assert run["summary"] == {
        "conversations": 3,
        "passed": 2,
        "failed": 1,
        "turns": 6,
        "turns_passed": 3,
    }
    assert run["by_category"]["shipping"]["passed"] == 1
    failing = next(c for c in run["conversations"] if not c["passed"])
    first = failing["turns"][0]
    assert first["bot"]["kind"] == "answer"
    assert first["bot"]["article"] == "shipping-to-canada"
    assert first["bot"]["diagnostics"]["kind"] == "answer"  # the decision's diagnostics
    assert failing["turns"][2]["bot"] is None  # after the handoff nothing ran
    intent_turn = next(c for c in run["conversations"] if c["category"] == "orders")["turns"][0]
    assert intent_turn["bot"]["slots"] == {"order_number": "LS-10042"}
    # The data folder's own database was never created: the run had a scratch one.
    assert not (data / "switchboard.db").exists()

    # The same command on the passing file alone exits 0.
    passing = _run([str(suites / "passing.yaml")], data, model_cache, seeded_index)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "passing: 2/2 conversations passed, 3/3 turns" in passing.stdout


def test_an_invalid_suite_exits_2_naming_file_conversation_and_key(
    tmp_path: Path, model_cache: Path, seeded_index: Path
) -> None:
    suite = tmp_path / "typo.yaml"
    suite.write_text(PASSING.replace("handoff_reason:", "handof_reason:"), "utf-8")
    result = _run([str(suite)], tmp_path / "data", model_cache, seeded_index)
    assert result.returncode == 2
    assert f"{suite}: line 9, conversation 'canada, then a person', turn 2" in result.stderr
    assert "expect.handof_reason: unknown key" in result.stderr
    assert result.stdout == ""

    no_kb = _run(
        [str(suite), "--kb", str(tmp_path / "nowhere")],
        tmp_path / "data",
        model_cache,
        seeded_index,
    )
    assert no_kb.returncode == 2
    assert "does not exist" in no_kb.stderr
