"""The conversation-suite format: a YAML file (or a folder of `*.yaml` files) holding
`conversations:`, each with a name, a category, an optional verified customer and its turns
(`say:` and an optional `expect:`). Loading validates everything before anything runs: a bad
file is a `SuiteInvalid` naming the file, the line, the conversation, the turn and the key,
and an unknown key is an error, so a typo in a suite is caught rather than ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from app.text_rules import check_text

ReplyKind = Literal["answer", "intent", "ask", "clarify", "handoff", "smalltalk"]
MAX_SUITE_BYTES = 2_000_000  # a pasted or uploaded suite


class Expect(BaseModel):
    """What the bot must do at a turn; every key is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ReplyKind | None = None
    article: str | list[str] | None = None  # a slug or exact title; a list: any of them
    mentions: list[str] | None = None  # each among the reply's sources or suggestions
    intent: str | None = None  # the decision's intent (small talk: the act)
    slots: dict[str, str | int | float | bool] | None = None
    handoff_reason: str | None = None  # implies a handoff
    handoff: bool | None = None  # false: "not a handoff"
    reply_contains: str | list[str] | None = None
    reply_not_contains: str | list[str] | None = None

    @property
    def hands_off(self) -> bool:
        """The turn is expected to end the conversation with a handoff."""
        return bool(self.handoff) or self.kind == "handoff" or self.handoff_reason is not None


class Turn(BaseModel):
    """One customer message and what the bot must do with it (no `expect`: it only sets
    context)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    say: str = Field(min_length=1)
    expect: Expect | None = None

    @field_validator("say")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a turn must say something")
        return check_text(value)


class Customer(BaseModel):
    """A verified customer, as the host site would sign one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    email: str | None = None
    name: str | None = None


class Conversation(BaseModel):
    """A named conversation of a suite."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    category: str = "uncategorised"
    customer: Customer | None = None
    turns: list[Turn] = Field(min_length=1)


class _SuiteFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversations: list[Conversation] = Field(min_length=1)


@dataclass(frozen=True)
class Suite:
    """A loaded, validated suite: its name (the file or folder's) and its conversations."""

    name: str
    conversations: tuple[tuple[str, Conversation], ...]  # (the file it came from, conversation)


class SuiteInvalid(ValueError):
    """A suite that cannot run, with every problem found (each names its file, line,
    conversation and key)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _line_of(node: yaml.Node | None, location: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at `location` (the nearest enclosing one found)."""
    line = node.start_mark.line + 1 if node is not None else None
    for step in location:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
            if node is None:  # an unknown key: point at the key itself
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            node = node.value[step] if step < len(node.value) else None
        else:
            break
        if node is not None:
            line = node.start_mark.line + 1
    return line


def _where(data: Any, location: tuple[int | str, ...]) -> str:
    """`conversation 'name', turn 2` for a location inside a conversation, else ''."""
    if len(location) < 2 or location[0] != "conversations" or not isinstance(location[1], int):
        return ""
    try:
        name = data["conversations"][location[1]].get("name")
    except (KeyError, IndexError, TypeError, AttributeError):
        name = None
    where = f"conversation {name!r}" if name else f"conversation #{location[1] + 1}"
    if len(location) >= 4 and location[2] == "turns" and isinstance(location[3], int):
        where += f", turn {location[3] + 1}"
    return where


def _key(location: tuple[int | str, ...]) -> str:
    """The key path inside the turn or conversation (`expect.artcle`)."""
    rest = list(location[2:]) if location[:1] == ("conversations",) else list(location)
    if len(rest) >= 2 and rest[0] == "turns" and isinstance(rest[1], int):
        rest = rest[2:]
    return ".".join(str(p) for p in rest if not isinstance(p, int)) or "(the conversation)"


def _message(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (check its spelling)"
    if error["type"] == "literal_error":
        return f"{error['msg'].lower()}, got {error['input']!r}"
    return str(error["msg"]).lower()


def parse_suite_file(text: str, source: str) -> list[Conversation]:
    """The conversations of one suite file's text; `SuiteInvalid` naming `source` and the line
    of each problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteInvalid([f"{source}{line}: not valid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise SuiteInvalid([f"{source}: a suite file is a mapping with a `conversations:` list"])
    try:
        parsed = _SuiteFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = tuple(error["loc"])
            at = _line_of(node, location)
            where = ", ".join(
                part
                for part in (
                    f"line {at}" if at else "",
                    _where(data, location),
                    _key(location),
                )
                if part
            )
            problems.append(f"{source}: {where}: {_message(error)}")
        raise SuiteInvalid(problems) from None
    return parsed.conversations


def _check_shape(conversations: list[tuple[str, Conversation]]) -> list[str]:
    """Problems across conversations: names repeated, turns after an expected handoff."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for source, conversation in conversations:
        if conversation.name in seen:
            problems.append(
                f"{source}: conversation {conversation.name!r}: the name is used twice "
                f"(also in {seen[conversation.name]}); names are unique within a suite"
            )
        seen.setdefault(conversation.name, source)
        for number, turn in enumerate(conversation.turns[:-1], start=1):
            if turn.expect is not None and turn.expect.hands_off:
                problems.append(
                    f"{source}: conversation {conversation.name!r}, turn {number}: a handoff "
                    "ends the conversation, but turns follow it"
                )
    return problems


def parse_suite(text: str, *, name: str) -> Suite:
    """A suite from one file's text (pasted or uploaded), validated."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SUITE_BYTES:
        raise SuiteInvalid([f"{name}: a suite is at most {MAX_SUITE_BYTES} bytes"])
    conversations = [(name, c) for c in parse_suite_file(text, name)]
    problems = _check_shape(conversations)
    if problems:
        raise SuiteInvalid(problems)
    return Suite(name, tuple(conversations))


def load_suite(path: Path) -> Suite:
    """A suite from a YAML file or a folder of `*.yaml` files (sorted, searched below it),
    validated whole: every file's problems are reported together."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.yaml") if p.is_file())
        if not files:
            raise SuiteInvalid([f"{path}: no *.yaml files in this folder"])
        label = path.name
    elif path.is_file():
        files, label = [path], path.stem
    else:
        raise SuiteInvalid([f"{path}: no such file or folder"])
    conversations: list[tuple[str, Conversation]] = []
    problems: list[str] = []
    for file in files:
        try:
            text = file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file}: cannot be read: {exc}")
            continue
        try:
            conversations.extend((str(file), c) for c in parse_suite_file(text, str(file)))
        except SuiteInvalid as exc:
            problems.extend(exc.problems)
    problems.extend(_check_shape(conversations))
    if problems:
        raise SuiteInvalid(problems)
    return Suite(label, tuple(conversations))


def suites_in(folder: Path) -> list[str]:
    """The suites of a suites folder, by name: each `*.yaml` file in it (its file name) and
    each folder in it holding `*.yaml` files (its folder name), sorted."""
    if not folder.is_dir():
        return []
    names = []
    for entry in sorted(folder.iterdir()):
        if (entry.is_file() and entry.suffix == ".yaml") or (
            entry.is_dir() and any(entry.rglob("*.yaml"))
        ):
            names.append(entry.name)
    return names


def load_named(folder: Path, name: str) -> Suite:
    """The suite `name` of `suites_in(folder)` (KeyError when there is no such suite: a name
    is never read as a path)."""
    if name not in suites_in(folder):
        raise KeyError(name)
    suite = load_suite(folder / name)
    return Suite(name, suite.conversations)
