"""The handoff packet: what an agent needs to see at once about a conversation the bot gave up
on (why, what it measured, the intent and slots, the articles it tried) and a one-paragraph
summary of it. Built in the handoff's transaction and stored on the conversation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.kb.knowledge import KbHit

REASON_PHRASES = {
    "explicit_request": "the customer asked for a person",
    "negative_sentiment": "the customer sounded frustrated",
    "low_confidence": "the bot was not confident it could answer",
    "repeated_fallback": "the bot failed to help several times in a row",
    "intent_requires_human": "this request needs a person",
    "action_failed": "a business system the bot called failed",
    "action_outcome_unknown": (
        "outcome unknown: a business system did not confirm the bot's request, which may have "
        "gone through; check before retrying"
    ),
}


def build_packet(
    *,
    reason: str,
    seq: int,
    now: datetime,
    question: str,
    intent: str | None,
    slots: dict[str, str],
    signals: dict[str, Any],
    hits: list[KbHit],
    bot_turns: int,
    misses: int,
) -> dict[str, Any]:
    """The packet stored with a handoff (JSON)."""
    articles = [
        {"article_id": h.article.id, "title": h.article.title, "score": round(h.score, 4)}
        for h in hits[:3]
    ]
    return {
        "reason": reason,
        "seq": seq,
        "at": now.isoformat(),
        "question": question,
        "intent": intent,
        "slots": dict(slots),
        "signals": signals,
        "articles": articles,
        "bot_turns": bot_turns,
        "misses": misses,
        "summary": summarize(
            reason=reason,
            question=question,
            intent=intent,
            slots=slots,
            articles=articles,
            bot_turns=bot_turns,
            sentiment=signals.get("sentiment"),
        ),
    }


def summarize(
    *,
    reason: str,
    question: str,
    intent: str | None,
    slots: dict[str, str],
    articles: list[dict[str, Any]],
    bot_turns: int,
    sentiment: float | None,
) -> str:
    """A short factual account of the handoff, for the queue and the conversation header."""
    quoted = question if len(question) <= 160 else question[:157].rstrip() + "..."
    parts = [f'Handed off because {REASON_PHRASES.get(reason, reason)}: "{quoted}".']
    if intent:
        filled = ", ".join(f"{k}={v}" for k, v in slots.items())
        parts.append(f"Intent: {intent}" + (f" ({filled})." if filled else "."))
    if articles:
        tried = "; ".join(f"{a['title']} ({a['score']:.2f})" for a in articles)
        parts.append(f"Closest articles: {tried}.")
    parts.append(f"The bot replied {bot_turns} time{'s' if bot_turns != 1 else ''} before.")
    if sentiment is not None and sentiment <= -0.3:
        parts.append(f"Sentiment {sentiment:+.2f}.")
    return " ".join(parts)
