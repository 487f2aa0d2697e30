"""Intent files: the shipped demo loads, the smallest form is complete, errors name file and
field."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.conversations.dialog import frame_for
from app.intents.builtin import HUMAN_INTENT, with_builtins
from app.intents.definitions import HttpAction, IntentFormatError, load_intents
from app.policy.decision import HandoffReason

REPO = Path(__file__).resolve().parents[2]


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(IntentFormatError) as caught:
        load_intents(folder)
    return caught.value.problems


def test_shipped_demo_intents_load() -> None:
    catalog = load_intents(REPO / "intents")
    assert {
        "order_status",
        "password_reset",
        "refund_request",
        "cancel_order",
        "shipping_options",
        "talk_to_human",
        "greeting",  # customises the built-in small talk act (thanks and goodbye are built in)
    } <= set(catalog.intents)
    refund = catalog.intents["refund_request"]
    assert refund.confirm and isinstance(refund.action, HttpAction)
    assert catalog.integrations == {"orders"}
    gated = {name for name, i in catalog.intents.items() if i.requires_verified_customer}
    assert gated == {"order_status", "refund_request", "cancel_order", "password_reset"}
    assert "email" not in catalog.intents["password_reset"].slots  # the email on record


def test_requires_verified_customer_with_its_own_reply(tmp_path: Path) -> None:
    write(
        tmp_path,
        "points.yaml",
        "name: points\nexamples: [a, b, c]\nrequires_verified_customer: true\n"
        "verification_reply: Sign in to see your points.\n"
        "action: {type: http, integration: shop, path: '/points/{{ customer.id }}',"
        " headers: {X-Customer-Email: '{{ customer.email }}'},"
        " reply: '{{ customer.name }} has {{ response.points }} points'}\n",
    )
    write(
        tmp_path,
        "plain.yaml",
        "name: plain\nexamples: [d, e, f]\nrequires_verified_customer: true\nreply: hi\n",
    )
    catalog = load_intents(tmp_path)
    assert catalog.intents["points"].refusal_text == "Sign in to see your points."
    assert "sign in to your account" in catalog.intents["plain"].refusal_text
    assert not load_intents(REPO / "intents").intents["greeting"].requires_verified_customer


def test_name_examples_and_reply_make_a_complete_intent(tmp_path: Path) -> None:
    write(tmp_path, "hours.yaml", "name: hours\nexamples: [a, b, c]\nreply: 9 to 5\n")
    catalog = load_intents(tmp_path)
    assert catalog.intents["hours"].reply == "9 to 5"


def test_talk_to_human_is_built_in(tmp_path: Path) -> None:
    write(tmp_path, "hours.yaml", "name: hours\nexamples: [a, b, c]\nreply: 9 to 5\n")
    catalog = with_builtins(load_intents(tmp_path))
    frame = frame_for(catalog.intents[HUMAN_INTENT], {}, {})
    assert frame.handoff is HandoffReason.EXPLICIT_REQUEST


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\nexamples: [a, b, c]\n",
            "x.yaml: (file): give exactly one of `reply` or `action`",
        ),
        ("name: Bad Name\nexamples: [a, b, c]\nreply: hi\n", "x.yaml: name: String should match"),
        ("name: x\nexamples: [a]\nreply: hi\n", "x.yaml: examples: Tuple should have at least 3"),
        (
            "name: x\nexamples: [a, b, c]\nreply: 'hi {{ slots.x'\n",
            "x.yaml: reply: template does not compile",
        ),
        (
            "name: x\nexamples: [a, b, c]\nreply: '{{ secret }}'\n",
            "x.yaml: reply: template uses unknown variable(s) secret",
        ),
        (
            "name: x\nexamples: [a, b, c]\nslots: {n: {type: colour, prompt: p}}\nreply: hi\n",
            "x.yaml: slots.n.type: Input should be",
        ),
        (
            "name: x\nexamples: [a, b, c]\nslots: {n: {pattern: '(', prompt: p}}\nreply: hi\n",
            "x.yaml: slots.n.pattern: not a valid regular expression",
        ),
        (
            "name: x\nexamples: [a, b, c]\naction: {type: http, path: /x, reply: ok}\n",
            "x.yaml: action.integration: Field required",
        ),
        (
            "name: x\nexamples: [a, b, c]\naction: {type: email}\n",
            "x.yaml: action: Input tag 'email' found using 'type' does not match",
        ),
        ("name: x\nexamples: [a, b, c]\nreply: hi\nwhat: 1\n", "x.yaml: what: Extra inputs"),
        (
            "name: x\nexamples: [a, b, c]\nreply: hi\nverification_reply: sign in\n",
            "x.yaml: (file): `verification_reply` only applies with `requires_verified_customer",
        ),
        (
            "name: x\nexamples: [a, b, c]\nreply: hi\nrequires_verified_customer: maybe\n",
            "x.yaml: requires_verified_customer: Input should be a valid boolean",
        ),
        (
            "name: x\nexamples: [a, b, c]\nreply: hi\nrequires_verified_customer: true\n"
            "verification_reply: 'hi {{ customer.name }}'\n",
            "x.yaml: verification_reply: template uses unknown variable(s) customer",
        ),
        ("- just\n- a list\n", "x.yaml: must be a mapping"),
        ("name: [unclosed\n", "x.yaml: not valid YAML"),
    ],
)
def test_errors_name_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, "x.yaml", text)
    problems = problems_of(tmp_path)
    assert any(p.startswith(expected) for p in problems), problems


def test_duplicate_names_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: same\nexamples: [a, b, c]\nreply: hi\n")
    write(tmp_path, "b.yml", "name: same\nexamples: [d, e, f]\nreply: hi\n")
    assert problems_of(tmp_path) == ["b.yml: name: 'same' is already defined in a.yaml"]


def test_every_bad_file_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: a\nexamples: [a, b, c]\n")
    write(tmp_path, "b.yaml", "name: b\nexamples: [a]\nreply: hi\n")
    assert [p.split(":")[0] for p in problems_of(tmp_path)] == ["a.yaml", "b.yaml"]
