"""Knowledge-base health: near-duplicate published articles, published articles that never
matched a customer's message, and article counts by status.

Near-duplicates are read from the live index's passage vectors (title, alternate questions and
body chunks of every published article). Two articles' overlap is the lower of the two
directions' mean best-passage cosine (each passage of one article against its closest passage
of the other), so it is 1.0 for identical content and high only when both articles cover the
same ground. Pairs are considered only when their centroids (normalised mean passage vectors)
are at least `CENTROID_PREFILTER` alike, which keeps the work near-linear in large knowledge
bases. On the shipped knowledge base (66 articles) the highest overlap between distinct
articles is 0.71 (password reset vs reset email not received; centroids reach 0.84, too close
to copies to separate them), while copies with a third of the body sentences and half the
questions removed score 0.79-0.85 (centroids 0.89-0.97): `DUPLICATE_THRESHOLD` 0.75 lies between.

An article "matched" in the window when a bot reply cited it as a source, offered it as a
suggestion, or ranked it first among the articles retrieved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from app.conversations.models import BOT_EVENTS, Author, Event, Message
from app.db import utcnow
from app.insights.schemas import ArticleBrief, DuplicatePair, NeverMatched, StatusCounts
from app.kb.knowledge import ArticleRef
from app.kb.models import Article
from app.kb.vector_index import StoredPassages, article_centroids

DUPLICATE_THRESHOLD = 0.75
CENTROID_PREFILTER = 0.7
MAX_CANDIDATES = 20_000  # pairs compared passage by passage, most alike centroids first
MAX_PAIRS = 200
BLOCK_ROWS = 1024  # centroid rows compared at once (bounds memory)

_events = Event.__table__
_messages = Message.__table__
_articles = Article.__table__


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """The lower of the two directions' mean best cosine between passages (unit rows)."""
    similarity = a @ b.T
    return float(min(similarity.max(axis=1).mean(), similarity.max(axis=0).mean()))


def near_duplicates(
    passages: StoredPassages,
    articles: dict[int, ArticleRef],
    *,
    threshold: float = DUPLICATE_THRESHOLD,
    prefilter: float = CENTROID_PREFILTER,
) -> list[DuplicatePair]:
    """Pairs of articles whose passage overlap is at least `threshold`, most alike first.
    CPU-bound: call it in a worker thread."""
    if not len(passages.article_ids):
        return []
    centroids, row_article = article_centroids(passages.vectors, passages.article_ids)
    ids = np.unique(passages.article_ids)  # the order of `centroids`
    count = len(ids)
    candidates: list[tuple[float, int, int]] = []
    for start in range(0, count, BLOCK_ROWS):
        block = centroids[start : start + BLOCK_ROWS] @ centroids.T
        rows, cols = np.nonzero(block >= prefilter)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if c > start + r:
                candidates.append((float(block[r, c]), start + r, c))
    candidates.sort(reverse=True)
    order = np.argsort(row_article, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(row_article, minlength=count))))
    vectors = passages.vectors

    def rows_of(k: int) -> np.ndarray:
        return vectors[order[bounds[k] : bounds[k + 1]]]

    pairs = []
    for _, i, j in candidates[:MAX_CANDIDATES]:
        score = overlap(rows_of(i), rows_of(j))
        a, b = articles.get(int(ids[i])), articles.get(int(ids[j]))
        if score >= threshold and a is not None and b is not None:
            pairs.append(
                DuplicatePair(
                    a=ArticleBrief(article_id=a.id, title=a.title),
                    b=ArticleBrief(article_id=b.id, title=b.title),
                    score=round(min(score, 1.0), 4),
                )
            )
    pairs.sort(key=lambda p: -p.score)
    return pairs[:MAX_PAIRS]


def _cited(value: Any) -> set[int]:
    """Article ids in a stored list of sources or suggestions."""
    found = set()
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and isinstance(item.get("article_id"), int):
            found.add(item["article_id"])
    return found


def matched_articles(conn: Connection, *, since: datetime) -> tuple[set[int], int]:
    """Articles that bot replies since `since` cited, suggested or ranked first; and how many
    bot replies there were. Reads only those parts of each reply's metadata."""
    bot = _messages
    query = (
        select(
            bot.c.meta["sources"],
            bot.c.meta["suggestions"],
            bot.c.meta[("retrieval", 0, "article_id")].as_integer(),
        )
        .select_from(
            _events.join(
                bot,
                (bot.c.conversation_id == _events.c.conversation_id)
                & (bot.c.seq == _events.c.data["seq"].as_integer()),
            )
        )
        .where(
            _events.c.type.in_(BOT_EVENTS),
            _events.c.created_at >= since,
            bot.c.author == Author.BOT.value,
        )
    )
    matched: set[int] = set()
    replies = 0
    for sources, suggestions, top in conn.execute(query):
        replies += 1
        matched |= _cited(sources) | _cited(suggestions)
        if top is not None:
            matched.add(int(top))
    return matched, replies


def status_counts(conn: Connection) -> StatusCounts:
    """How many articles there are in each status."""
    rows = conn.execute(select(_articles.c.status, func.count()).group_by(_articles.c.status)).all()
    counts = {status: int(n) for status, n in rows}
    return StatusCounts(
        published=counts.get("published", 0),
        draft=counts.get("draft", 0),
        archived=counts.get("archived", 0),
        total=sum(counts.values()),
    )


def health_data(
    conn: Connection, *, since: datetime
) -> tuple[StatusCounts, list[NeverMatched], int]:
    """Counts by status, the published articles no reply matched since `since` (oldest
    first), and how many bot replies there were since then."""
    matched, replies = matched_articles(conn, since=since)
    now = utcnow()
    rows = conn.execute(
        select(
            _articles.c.id,
            _articles.c.slug,
            _articles.c.title,
            _articles.c.created_at,
            _articles.c.updated_at,
        )
        .where(_articles.c.status == "published")
        .order_by(_articles.c.created_at, _articles.c.id)
    ).all()
    never = [
        NeverMatched(
            article_id=article_id,
            title=title,
            slug=slug,
            created_at=created_at,
            updated_at=updated_at,
            age_days=round((now - created_at).total_seconds() / 86400, 1),
        )
        for article_id, slug, title, created_at, updated_at in rows
        if article_id not in matched
    ]
    return status_counts(conn), never, replies
