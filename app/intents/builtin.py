"""What the bot understands whatever the intents folder holds: requests for a person, yes and no.

- `talk_to_human` is added to the catalog when the folder does not define it, so "agent please"
  hands off out of the box; a folder may redefine it (its own examples and reply).
- `asks_for_human` recognises unambiguous phrasings directly, as a safety net under the
  classifier: a customer who asks for a person must never be kept talking to the bot.
- `is_affirmation` / `is_denial` read the answer to a confirmation question.
"""

from __future__ import annotations

import re

from app.intents.definitions import HandoffAction, IntentCatalog, IntentDef

HUMAN_INTENT = "talk_to_human"

HUMAN_EXAMPLES = (
    "let me talk to a human",
    "I want to speak to a real person",
    "agent please",
    "can I talk to someone from your team",
    "connect me with a customer service representative",
    "is there a live agent I can chat with",
    "transfer me to a person",
    "I don't want to talk to a bot",
    "get me a human",
    "I need to speak with support staff",
    "talk to an operator",
    "can a real person help me",
)

_PERSON = (
    r"(human|person|someone|somebody|agent|operator|rep|representative|staff|manager|supervisor)"
)
_SUPPORT = r"(customer (service|support|care)|support team|your team|support staff)"
_HUMAN_PATTERNS = (
    re.compile(r"\b(connect|transfer|put|pass) me (to|through to|with|on to) " + _SUPPORT),
    re.compile(r"\b(real|live|actual) (human|person|agent|people)\b"),
    re.compile(
        r"\b(talk|speak|chat)(ing)? (to|with) (a |an |the |some |your )?" + _PERSON + r"s?\b"
    ),
    re.compile(
        r"\b(connect|transfer|put|pass) me (to|through to|with|on to) .*\b" + _PERSON + r"s?\b"
    ),
    re.compile(r"\b(get|give|want|need) (me )?(a |an )?(human|real person|live agent|operator)\b"),
    re.compile(r"^\W*(human|agent|representative|operator|person)( please| pls| now)?\W*$"),
    re.compile(r"\b(agent|human|representative|operator),? (please|pls|now)\b"),
    re.compile(r"\b(not|don'?t want( to talk to)?) (a |the |this )?(bot|robot|machine)\b"),
)

_AFFIRM = re.compile(
    r"^\W*(yes|yeah|yep|yup|ya|sure|ok|okay|o\.k\.|please do|go ahead|do it|confirm(ed)?|correct|"
    r"that'?s (right|correct)|absolutely|definitely|of course|y|affirmative|please)\b"
)
_DENY = re.compile(
    r"^\W*(no|nope|nah|n|don'?t|do not|cancel( it| that)?|stop|never ?mind|not now|wait|"
    r"hold on|negative)\b"
)


def _normal(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").split())


def asks_for_human(text: str) -> bool:
    """Whether `text` plainly asks for a person (phrasings no support bot may miss)."""
    normal = _normal(text)
    return any(pattern.search(normal) for pattern in _HUMAN_PATTERNS)


def is_denial(text: str) -> bool:
    """Whether `text` answers a yes/no question with no."""
    return bool(_DENY.search(_normal(text)))


def is_affirmation(text: str) -> bool:
    """Whether `text` answers a yes/no question with yes (and not with no)."""
    normal = _normal(text)
    return bool(_AFFIRM.search(normal)) and not _DENY.search(normal)


def with_builtins(catalog: IntentCatalog) -> IntentCatalog:
    """`catalog` plus `talk_to_human` when the folder does not define it."""
    if HUMAN_INTENT in catalog.intents:
        return catalog
    human = IntentDef(
        name=HUMAN_INTENT,
        description="The customer asks for a person (built in).",
        examples=HUMAN_EXAMPLES,
        action=HandoffAction(type="handoff", reason="explicit_request"),
    )
    return IntentCatalog({**catalog.intents, HUMAN_INTENT: human})
