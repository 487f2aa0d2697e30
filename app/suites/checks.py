"""What the bot did at a turn (`TurnSeen`, read from the stored reply's meta) and how it is
compared with the turn's `expect`: each failure in plain words ("expected article
shipping-to-canada, got clarify between X and Y")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from app.suites.definitions import Expect


@dataclass(frozen=True)
class ArticleSeen:
    """An article a reply named (a source or a suggestion)."""

    slug: str
    title: str

    def matches(self, wanted: str) -> bool:
        """`wanted` is this article's slug or exact title (case aside)."""
        folded = wanted.strip().casefold()
        return folded in (self.slug.casefold(), self.title.casefold())


@dataclass(frozen=True)
class TurnSeen:
    """What the bot did with one customer message."""

    kind: str
    reason: str
    text: str
    intent: str | None = None
    handoff_reason: str | None = None
    confidence: float = 0.0
    sources: tuple[ArticleSeen, ...] = ()
    suggestions: tuple[ArticleSeen, ...] = ()
    slots: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_meta(cls, text: str, meta: Mapping[str, Any], slugs: Mapping[int, str]) -> TurnSeen:
        """Read a stored bot message's meta; `slugs` names articles by id."""

        def seen(items: list[dict[str, Any]]) -> tuple[ArticleSeen, ...]:
            return tuple(
                ArticleSeen(slugs.get(int(i["article_id"]), str(i["article_id"])), i["title"])
                for i in items
            )

        return cls(
            kind=str(meta.get("kind", "")),
            reason=str(meta.get("reason", "")),
            text=text,
            intent=meta.get("intent"),
            handoff_reason=meta.get("handoff_reason"),
            confidence=float(meta.get("confidence", 0.0)),
            sources=seen(meta.get("sources", [])),
            suggestions=seen(meta.get("suggestions", [])),
            slots=dict(meta.get("slots", {})),
            diagnostics=dict(meta.get("decision", {})),
        )

    @property
    def article(self) -> ArticleSeen | None:
        """The article answered with (an answer's first source)."""
        return self.sources[0] if self.kind == "answer" and self.sources else None

    def describe(self) -> str:
        """The bot's move in a few words: `answer shipping-to-canada`, `clarify between X and
        Y`, `handoff (explicit_request)`, `intent track_order`."""
        if self.kind == "answer" and self.article is not None:
            return f"answer {self.article.slug}"
        if self.kind == "clarify":
            offered = self.sources or self.suggestions
            if offered:
                return "clarify between " + " and ".join(a.slug for a in offered)
            return f"clarify ({self.reason})"
        if self.kind == "handoff":
            return f"handoff ({self.handoff_reason or self.reason})"
        if self.intent:
            return f"{self.kind} {self.intent} ({self.reason})"
        return f"{self.kind} ({self.reason})"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: what the reports and the API show."""
        shown = asdict(self)
        shown["article"] = self.article.slug if self.article else None
        shown["move"] = self.describe()
        return shown


def _strings(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _same_value(got: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(got, bool):
        return got is wanted or str(got).casefold() == str(wanted).casefold()
    return str(got).strip().casefold() == str(wanted).strip().casefold()


def failures(expect: Expect | None, seen: TurnSeen) -> list[str]:
    """Why the turn does not meet `expect`, one sentence per broken expectation (empty: it
    passes)."""
    if expect is None:
        return []
    found: list[str] = []
    got = seen.describe()
    if expect.kind is not None and seen.kind != expect.kind:
        found.append(f"expected {expect.kind}, got {got}")
    wanted_articles = _strings(expect.article)
    if wanted_articles:
        article = seen.article
        if article is None or not any(article.matches(w) for w in wanted_articles):
            found.append(f"expected article {' or '.join(wanted_articles)}, got {got}")
    for mention in expect.mentions or []:
        if not any(a.matches(mention) for a in (*seen.sources, *seen.suggestions)):
            named = ", ".join(a.slug for a in (*seen.sources, *seen.suggestions)) or "none"
            found.append(f"expected {mention} among the articles offered, got {named}")
    if expect.intent is not None and seen.intent != expect.intent:
        found.append(f"expected intent {expect.intent}, got {seen.intent or 'no intent'} ({got})")
    for slot, wanted in (expect.slots or {}).items():
        if slot not in seen.slots:
            found.append(f"expected slot {slot} = {wanted!r}, but it is not filled ({got})")
        elif not _same_value(seen.slots[slot], wanted):
            found.append(f"expected slot {slot} = {wanted!r}, got {seen.slots[slot]!r}")
    if expect.handoff_reason is not None and seen.handoff_reason != expect.handoff_reason:
        found.append(f"expected handoff ({expect.handoff_reason}), got {got}")
    if expect.handoff is True and seen.kind != "handoff" and expect.handoff_reason is None:
        found.append(f"expected a handoff, got {got}")
    if expect.handoff is False and seen.kind == "handoff":
        found.append(f"expected no handoff, got {got}")
    text = seen.text.casefold()
    for phrase in _strings(expect.reply_contains):
        if phrase.casefold() not in text:
            found.append(f"expected the reply to contain {phrase!r}")
    for phrase in _strings(expect.reply_not_contains):
        if phrase.casefold() in text:
            found.append(f"expected the reply not to contain {phrase!r}")
    return found
