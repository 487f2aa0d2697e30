"""Turns a policy decision into the reply the customer reads."""

from __future__ import annotations

from dataclasses import dataclass

from app.conversations.schemas import Source, Suggestion
from app.kb.knowledge import KbHit
from app.policy.decision import Decision, DecisionKind, Reason

NOT_SURE_WITH_TOPICS = "I'm not sure I understood that. Is your question about one of these topics?"
WHICH_ONE = "I found a few close matches. Which one do you mean?"
NOT_SURE_NO_TOPICS = (
    "I'm sorry, I couldn't find anything about that. Could you rephrase your question, "
    "with a few more details?"
)


@dataclass(frozen=True)
class RenderedReply:
    """The text of a reply and what it cites or offers."""

    text: str
    sources: list[Source]
    suggestions: list[Suggestion]


def render(decision: Decision, hits: list[KbHit], *, top_k: int) -> RenderedReply:
    """The reply for `decision`, given the articles the search found (best first)."""
    by_id = {h.article.id: h for h in hits}
    if decision.kind == DecisionKind.ANSWER and decision.article_id in by_id:
        chosen = by_id[decision.article_id]
        others = [h for h in hits if h.article.id != chosen.article.id]
        sources = [
            Source(article_id=h.article.id, title=h.article.title, score=round(h.score, 4))
            for h in [chosen, *others][:top_k]
        ]
        return RenderedReply(chosen.article.body, sources, [])
    suggestions = [
        Suggestion(article_id=aid, title=by_id[aid].article.title)
        for aid in decision.suggestions
        if aid in by_id
    ]
    if suggestions:
        lines = "\n".join(f"- {s.title}" for s in suggestions)
        intro = WHICH_ONE if decision.reason is Reason.TOO_CLOSE else NOT_SURE_WITH_TOPICS
        text = f"{intro}\n\n{lines}"
    else:
        text = NOT_SURE_NO_TOPICS
    sources = [
        Source(article_id=h.article.id, title=h.article.title, score=round(h.score, 4))
        for h in hits[:top_k]
    ]
    return RenderedReply(text, sources, suggestions)
