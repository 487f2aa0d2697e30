"""Intent definitions: one YAML file per intent in the intents folder, validated at start.

A complete intent can be as small as `name`, `examples` and `reply`. The full form:

```yaml
name: refund_request                 # lower_snake_case, unique
description: Refund an order         # optional, shown to staff
examples: [I want my money back, ...] # what customers say (at least 3)
slots:                                # optional, asked for in this order
  order_number:
    type: order_number                # order_number|email|amount|date|number|choice|text
    prompt: Which order is it?        # asked when the value is missing
    invalid: That isn't an order number I know the format of.   # optional
confirm: Refund order {{ slots.order_number }}?   # optional yes/no step before the action
requires_verified_customer: true      # optional: never runs for an anonymous visitor
verification_reply: Please sign in first.         # optional: what they are told instead
action:                               # or `reply:` for a plain text answer
  type: http                          # reply | http | handoff
  integration: orders                 # base URL and secret headers come from settings
  method: POST
  path: /orders/{{ slots.order_number }}/refunds
  headers: {X-Customer-Id: "{{ customer.id }}"}   # the verified customer (app/identity.py)
  body: {reason: "{{ slots.reason }}"}
  reply: Done: refund {{ response.id }} is on its way.
  replies: {404: I can't find order {{ slots.order_number }}.}
  limit: {key: "{{ slots.order_number }}", rate: 3/hour}   # optional: beyond it, no call
```
Errors name the file and the field to fix.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from app.config import checked_rate
from app.intents.templates import TemplateProblem, check_template

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
MAX_EXAMPLE_CHARS = 500
MAX_TEMPLATE_CHARS = 4000


def _template(value: str, allowed: frozenset[str] | None = None) -> str:
    if len(value) > MAX_TEMPLATE_CHARS:
        raise ValueError(f"longer than {MAX_TEMPLATE_CHARS} characters")
    try:
        if allowed is None:
            check_template(value)
        else:
            check_template(value, allowed)
    except TemplateProblem as exc:
        raise ValueError(str(exc)) from exc
    return value


def _templates(value: Any) -> Any:
    if isinstance(value, str):
        _template(value)
    elif isinstance(value, dict):
        for item in value.values():
            _templates(item)
    elif isinstance(value, list):
        for item in value:
            _templates(item)
    return value


class SlotType(enum.StrEnum):
    """The kinds of value a slot can hold."""

    ORDER_NUMBER = "order_number"
    EMAIL = "email"
    AMOUNT = "amount"
    DATE = "date"
    NUMBER = "number"
    CHOICE = "choice"
    TEXT = "text"


class _Strict(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}


SLOT_ONLY = frozenset({"slots", "customer"})
DEFAULT_VERIFICATION_REPLY = (
    "I can only do that for a signed-in customer. Please sign in to your account and open "
    "the chat from there, and I'll take care of it."
)


class SlotDef(_Strict):
    """One piece of information an intent needs from the customer."""

    type: SlotType = SlotType.TEXT
    pattern: str | None = Field(
        None, description="A regular expression; its first group (or the match) is the value."
    )
    prompt: str = Field(min_length=1, description="What the bot asks when the value is missing.")
    invalid: str | None = Field(None, description="Said when a value fails validation.")
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    max_length: int | None = Field(None, ge=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @field_validator("prompt", "invalid")
    @classmethod
    def _slot_templates(cls, value: str | None) -> str | None:
        return None if value is None else _template(value, SLOT_ONLY)

    @model_validator(mode="after")
    def _choices_for_choice(self) -> SlotDef:
        if self.type is SlotType.CHOICE and not self.choices and self.pattern is None:
            raise ValueError("a slot of type choice needs `choices`")
        return self


class ReplyAction(_Strict):
    """Answer with a text template."""

    type: Literal["reply"]
    reply: str

    @field_validator("reply")
    @classmethod
    def _text(cls, value: str) -> str:
        return _template(value, SLOT_ONLY)


DEFAULT_LIMITED_REPLY = (
    "I've already done that several times just now, so I can't do it again yet. "
    "Please try again in a little while."
)


class ActionLimit(_Strict):
    """How often the action may run for one value, e.g. one email address: `key` is a template
    over the slots, `rate` a `limits` rate string. Beyond it the bot answers `reply` and the
    integration is not called."""

    key: str = Field(
        min_length=1, description='Template of what is counted, e.g. "{{ slots.email }}".'
    )
    rate: str = Field(description='How often, e.g. "3/hour" or "3/hour;10/day".')
    reply: str = Field(DEFAULT_LIMITED_REPLY, description="What the bot says over the limit.")

    @field_validator("key", "reply")
    @classmethod
    def _text(cls, value: str) -> str:
        return _template(value, SLOT_ONLY)

    @field_validator("rate")
    @classmethod
    def _rate(cls, value: str) -> str:
        return checked_rate(value)


class HttpAction(_Strict):
    """Call one of the business's systems and answer from its JSON response."""

    type: Literal["http"]
    integration: str = Field(
        min_length=1,
        description="Name of an entry of SWITCHBOARD_INTEGRATIONS (base URL, headers).",
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str = Field(min_length=1, description="Template appended to the integration's base URL.")
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra non-secret headers (secrets go in settings)."
    )
    body: dict[str, Any] | None = None
    reply: str = Field(description="Template for a 2xx response (reads `response`).")
    replies: dict[int, str] = Field(
        default_factory=dict, description="Templates for other status codes, e.g. 404."
    )
    timeout: float = Field(5.0, gt=0, le=60)
    retries: int = Field(2, ge=0, le=5)
    limit: ActionLimit | None = Field(
        None, description="How often the call may run per key (e.g. per email address)."
    )

    @field_validator("path", "reply")
    @classmethod
    def _text(cls, value: str) -> str:
        return _template(value)

    @field_validator("query", "headers", "body", "replies")
    @classmethod
    def _nested(cls, value: Any) -> Any:
        return _templates(value)

    @field_validator("replies")
    @classmethod
    def _status_codes(cls, value: dict[int, str]) -> dict[int, str]:
        bad = [code for code in value if not 100 <= code <= 599]
        if bad:
            raise ValueError(f"not HTTP status codes: {bad}")
        return value


class HandoffAction(_Strict):
    """Hand the conversation to a person."""

    type: Literal["handoff"]
    reason: Literal["explicit_request", "intent_requires_human"] = "intent_requires_human"
    reply: str | None = None

    @field_validator("reply")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else _template(value, SLOT_ONLY)


Action = Annotated[ReplyAction | HttpAction | HandoffAction, Field(discriminator="type")]


class IntentDef(_Strict):
    """One intent as written in its YAML file."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    examples: tuple[str, ...] = Field(min_length=3)
    slots: dict[str, SlotDef] = Field(default_factory=dict)
    confirm: str | None = None
    reply: str | None = None
    action: Action | None = None
    requires_verified_customer: bool = Field(
        False,
        description="Only a verified customer (signed by the host site) may run it: an "
        "anonymous visitor gets `verification_reply` and the action never runs.",
    )
    verification_reply: str | None = Field(
        None,
        min_length=1,
        description="What an anonymous visitor is told instead (default: sign in first).",
    )

    @field_validator("examples")
    @classmethod
    def _examples(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(" ".join(str(v).split()) for v in value))
        for example in cleaned:
            if not example:
                raise ValueError("examples must not be empty")
            if len(example) > MAX_EXAMPLE_CHARS:
                raise ValueError(f"an example is longer than {MAX_EXAMPLE_CHARS} characters")
        return cleaned

    @field_validator("slots")
    @classmethod
    def _slot_names(cls, value: dict[str, SlotDef]) -> dict[str, SlotDef]:
        bad = [name for name in value if not re.match(NAME_PATTERN, name)]
        if bad:
            raise ValueError(f"slot names must be lower_snake_case: {bad}")
        return value

    @field_validator("confirm", "reply")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else _template(value, SLOT_ONLY)

    @field_validator("verification_reply")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        return None if value is None else _template(value, frozenset())

    @model_validator(mode="after")
    def _reply_or_action(self) -> IntentDef:
        if (self.reply is None) == (self.action is None):
            raise ValueError("give exactly one of `reply` or `action`")
        if self.confirm is not None and not isinstance(self.action, HttpAction):
            raise ValueError("`confirm` only applies to an `http` action")
        if self.verification_reply is not None and not self.requires_verified_customer:
            raise ValueError(
                "`verification_reply` only applies with `requires_verified_customer: true`"
            )
        return self

    @property
    def refusal_text(self) -> str:
        """What an anonymous visitor is told when the intent needs a verified customer."""
        return self.verification_reply or DEFAULT_VERIFICATION_REPLY

    @property
    def effective_action(self) -> ReplyAction | HttpAction | HandoffAction:
        """The action, with a top-level `reply` read as a reply action."""
        if self.action is not None:
            return self.action
        return ReplyAction(type="reply", reply=self.reply or "")


class IntentFormatError(ValueError):
    """One or more intent files are malformed; `problems` lists `file: field: what to fix`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid intents:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class IntentCatalog:
    """The validated intents of a folder, by name."""

    intents: dict[str, IntentDef]

    def __len__(self) -> int:
        return len(self.intents)

    def get(self, name: str | None) -> IntentDef | None:
        """The intent called `name`, if defined."""
        return self.intents.get(name) if name else None

    @property
    def integrations(self) -> set[str]:
        """Names of the integrations the intents call."""
        return {
            i.action.integration for i in self.intents.values() if isinstance(i.action, HttpAction)
        }


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in {"reply", "http", "handoff"} and parts and parts[-1] == "action":
            continue  # the discriminator's branch name adds nothing for the reader
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(file)"


def parse_intent(text: str, *, where: str) -> tuple[IntentDef | None, list[str]]:
    """Parse one YAML intent file; returns the intent or the problems found."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, [f"{where}: not valid YAML ({exc})"]
    if not isinstance(data, dict):
        return None, [f"{where}: must be a mapping with name, examples and reply or action"]
    try:
        return IntentDef.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {_field_path(error['loc'])}: {message}")
        return None, problems


def load_intents(folder: Path) -> IntentCatalog:
    """Every `*.yaml` / `*.yml` intent in `folder` (a missing folder means no intents)."""
    if not folder.is_dir():
        return IntentCatalog({})
    problems: list[str] = []
    intents: dict[str, IntentDef] = {}
    seen: dict[str, str] = {}
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".yaml", ".yml"})
    for path in files:
        intent, found = parse_intent(path.read_text(encoding="utf-8"), where=path.name)
        problems.extend(found)
        if intent is None:
            continue
        if intent.name in seen:
            problems.append(
                f"{path.name}: name: {intent.name!r} is already defined in {seen[intent.name]}"
            )
            continue
        seen[intent.name] = path.name
        intents[intent.name] = intent
    if problems:
        raise IntentFormatError(problems)
    return IntentCatalog(intents)
