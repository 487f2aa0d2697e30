"""Loading conversation suites: a valid file or folder loads; every problem of an invalid one
is named with its file, line, conversation, turn and key, and unknown keys are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.suites.definitions import SuiteInvalid, load_suite

VALID = """
conversations:
  - name: canada
    category: follow_up
    customer: {id: "c-1", email: "a@example.com", name: "Ada"}
    turns:
      - say: do you ship to canada?
        expect: {kind: answer, article: [shipping-to-canada, International shipping]}
      - say: thanks
"""


def _problems(tmp_path: Path, text: str, name: str = "suite.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    with pytest.raises(SuiteInvalid) as raised:
        load_suite(path)
    return raised.value.problems


def test_a_valid_file_and_a_folder_of_files_load(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(VALID, "utf-8")
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "two.yaml").write_text(VALID.replace("canada", "mexico"), "utf-8")
    (tmp_path / "notes.txt").write_text("not a suite", "utf-8")
    suite = load_suite(tmp_path)
    names = [c.name for _, c in suite.conversations]
    assert names == ["mexico", "canada"]  # files sorted by path: more/two.yaml, one.yaml
    conversation = suite.conversations[1][1]
    assert conversation.customer is not None and conversation.customer.id == "c-1"
    assert conversation.turns[1].expect is None  # context only


def test_an_unknown_expect_key_is_named_with_file_line_conversation_and_turn(
    tmp_path: Path,
) -> None:
    text = VALID.replace("{kind: answer, article:", "{kind: answer, artcle:")
    (problem,) = _problems(tmp_path, text)
    assert str(tmp_path / "suite.yaml") in problem
    assert "line 8" in problem  # the expect: line (the text starts with a blank line)
    assert "conversation 'canada', turn 1" in problem
    assert "expect.artcle" in problem
    assert "unknown key" in problem


def test_a_wrong_kind_and_a_missing_say_are_both_reported(tmp_path: Path) -> None:
    text = """
conversations:
  - name: a
    turns:
      - say: hi
        expect: {kind: answr}
  - name: b
    turns:
      - expect: {kind: answer}
"""
    problems = _problems(tmp_path, text)
    assert len(problems) == 2
    assert "conversation 'a', turn 1, expect.kind" in problems[0]
    assert "'answr'" in problems[0]
    assert "conversation 'b', turn 1, say: field required" in problems[1]


def test_bad_yaml_names_its_line(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, "conversations:\n  - name: a\n    turns: [\n")
    assert "not valid YAML" in problem
    assert "line 4" in problem


def test_repeated_names_and_turns_after_a_handoff_are_errors(tmp_path: Path) -> None:
    text = """
conversations:
  - name: same
    turns:
      - say: get me a person
        expect: {handoff_reason: explicit_request}
      - say: hello?
  - name: same
    turns:
      - say: hi
"""
    problems = _problems(tmp_path, text)
    assert any("turn 1: a handoff ends the conversation" in p for p in problems)
    assert any("'same': the name is used twice" in p for p in problems)


def test_a_file_that_is_not_a_suite_and_a_missing_path(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, "- just a list\n")
    assert "a mapping with a `conversations:` list" in problem
    with pytest.raises(SuiteInvalid, match="no such file or folder"):
        load_suite(tmp_path / "missing.yaml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SuiteInvalid, match=r"no \*\.yaml files"):
        load_suite(tmp_path / "empty")
