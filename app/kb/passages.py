"""Splits an article into the passages that are embedded: its title, its alternate questions
and chunks of its body (Markdown stripped to plain words)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PassageKind = Literal["title", "question", "chunk"]

# Bump when the way passages are made changes: persisted vectors are then rebuilt.
PASSAGES_VERSION = 1

_MARKUP = re.compile(r"(^#{1,6}\s*)|(^\s*[-*+]\s+)|(^\s*\d+[.)]\s+)|[*_`>|]", re.MULTILINE)
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")


@dataclass(frozen=True)
class Passage:
    """One embeddable piece of an article."""

    kind: PassageKind
    text: str


def plain_text(markdown: str) -> str:
    """Markdown reduced to its words (links keep their text, markup characters go)."""
    text = _LINK.sub(r"\1", markdown)
    text = _MARKUP.sub(" ", text)
    return text


def body_chunks(body: str, *, max_words: int) -> list[str]:
    """Consecutive paragraphs grouped into chunks of at most `max_words` words."""
    chunks: list[str] = []
    current: list[str] = []
    for paragraph in re.split(r"\n\s*\n", body):
        words = plain_text(paragraph).split()
        while words:
            room = max_words - len(current)
            if room <= 0:
                chunks.append(" ".join(current))
                current = []
                room = max_words
            current.extend(words[:room])
            words = words[room:]
    if current:
        chunks.append(" ".join(current))
    return chunks


def article_passages(
    title: str, body: str, questions: list[str] | tuple[str, ...], *, max_words: int
) -> list[Passage]:
    """Title, alternate questions and body chunks of one article, in that order."""
    passages = [Passage("title", title)]
    passages += [Passage("question", q) for q in questions]
    passages += [Passage("chunk", c) for c in body_chunks(body, max_words=max_words)]
    return passages
