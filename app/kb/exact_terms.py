"""Exact identifiers: the words of a message that name one article and not its neighbours.

Sentence vectors are nearly blind to codes and names: "error E102 when syncing" and "error
E103 when syncing" embed alike, so articles that differ by a code, a plan name or a product
number score within a hair of each other. `ExactTerms` indexes, per article, the terms of its
title, alternate questions and body that can identify it: anything with a digit or written in
capitals ("E102", "GST/HST", "CVV"), anything with an inner `-/@.` ("LS-10041",
"business@larkspur.example"), and plain words that occur in at most `RARE_IN` articles of the
knowledge base. `matches(text, article_ids)` says which of a message's such terms each
candidate article holds; the policy lets them decide between close neighbours (an article
holding more of them than every other close one wins).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

RARE_IN = 2  # a plain word identifies an article when at most this many articles use it
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-/@.'][A-Za-z0-9]+)*")
_CODE = re.compile(r"\d|[-/@.]")
MIN_WORD = 3


def _terms(text: str) -> set[str]:
    """Every token of `text` in lower case, and the parts of compound tokens ("gst/hst" gives
    "gst" and "hst" too)."""
    found: set[str] = set()
    for token in _TOKEN.findall(text):
        lower = token.lower()
        found.add(lower)
        if _CODE.search(lower):
            found.update(part for part in re.split(r"[-/@.']", lower) if len(part) >= 2)
    return found


def _looks_like_code(token: str) -> bool:
    """A token with a digit or an inner separator, or written in capitals (two or more)."""
    return bool(_CODE.search(token)) or (len(token) >= 2 and token.isupper())


class ExactTerms:
    """Which identifying terms each article holds (see the module docstring)."""

    def __init__(self, articles: Iterable[tuple[int, str]]) -> None:
        """`articles`: (article id, all of its text: title, questions and body)."""
        self._terms: dict[int, frozenset[str]] = {}
        document_frequency: Counter[str] = Counter()
        for article_id, text in articles:
            terms = frozenset(_terms(text))
            self._terms[article_id] = self._terms.get(article_id, frozenset()) | terms
        for terms in self._terms.values():
            document_frequency.update(terms)
        self._frequency = document_frequency

    def _identifying(self, text: str) -> set[str]:
        """The terms of a message that could identify an article."""
        found: set[str] = set()
        for token in _TOKEN.findall(text):
            lower = token.lower()
            parts = {lower} | (
                {p for p in re.split(r"[-/@.']", lower) if len(p) >= 2}
                if _CODE.search(lower)
                else set()
            )
            for term in parts:
                frequency = self._frequency.get(term, 0)
                if frequency == 0:
                    continue
                if _looks_like_code(token) or (len(term) >= MIN_WORD and frequency <= RARE_IN):
                    found.add(term)
        return found

    def matches(self, text: str, article_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
        """For each of `article_ids`, the message's identifying terms it holds (sorted)."""
        wanted = self._identifying(text)
        if not wanted:
            return {}
        return {
            article_id: tuple(sorted(wanted & self._terms.get(article_id, frozenset())))
            for article_id in article_ids
        }
