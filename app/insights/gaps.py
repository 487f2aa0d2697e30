"""Knowledge gaps: recent customer questions the bot could not answer, grouped by meaning.

A question is a gap when the bot's reply to it was a clarification ("I'm not sure..." or
"which one do you mean?") or a handoff for low confidence or repeated fallbacks. They are found
through the `bot.clarify` / `bot.handoff` events (indexed by type and time) joined to the bot's
message and, through its `reply_to_seq`, to the customer's. At most `MAX_QUESTIONS` of the most
recent are used.

Distinct texts are embedded with the service's encoder (in bulk chunks, between which
customers' messages are encoded; vectors are cached by text) and grouped by agglomerative
clustering with average linkage on cosine distance, cut at `DISTANCE_THRESHOLD`: a question
joins a group when its mean cosine similarity to the group's questions is at least 0.5.

The cut was chosen on validation data only: three samples each of 60 CLINC150 val intents, 40
BANKING77 train intents and 50 BANKING77-OOS valid intents (8-10 questions per intent), scored
by the adjusted Rand index against the intents. Average linkage beat complete linkage; cuts of
0.45 and 0.50 tie on mean ARI (0.505 and 0.498; 0.40: 0.480, 0.55: 0.475) and 0.50 is taken,
the coarser of the two, because a topic split over several clusters hides the largest gaps
from an admin, while two neighbouring intents sharing a cluster (BANKING77's "card arrival" and
"card delivery estimate") usually want the same article anyway. Clustering runs in a worker
thread (about 0.5 s for 2,000 questions).

A cluster's id is derived from its oldest question's message id, so it survives new questions
joining it; it changes only if that question leaves the window or moves to another cluster.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from app.conversations.models import Author, Event, EventType, Message
from app.db import Database, utcnow
from app.errors import Conflict, NotFound
from app.insights.schemas import ClosestArticle, GapCluster, GapReport, HeldBy
from app.kb.articles import create_article
from app.kb.knowledge import KnowledgeIndex
from app.kb.loader import MAX_QUESTION_CHARS, MAX_TITLE_CHARS
from app.kb.models import Article
from app.kb.schemas import MAX_QUESTIONS as MAX_ARTICLE_QUESTIONS
from app.kb.schemas import ArticleDraft
from app.nlp.batcher import MicroBatcher

MAX_QUESTIONS = 2000  # most recent unanswered questions clustered per report
DISTANCE_THRESHOLD = 0.5  # average-linkage cosine distance (see the module docstring)
MAX_EXAMPLES = 5
CACHE_SIZE = 10_000  # cached question vectors (about 1.5 KB each)
GAP_HANDOFF_REASONS = ("low_confidence", "repeated_fallback")
GAP_EVENTS = (EventType.BOT_CLARIFY, EventType.BOT_HANDOFF)
DRAFT_TAG = "knowledge-gap"
DRAFT_BODY = (
    "TODO: write the answer here, then publish this article.\n\n"
    "This draft was made from {count} customer question(s) the bot could not answer between "
    "{first} and {last} UTC (listed under alternate questions). Until it is published it "
    "answers nobody.{closest}"
)

# An article's title or alternate question (normalised) -> (article id, title, status).
Held = dict[str, tuple[int, str, str]]

_events = Event.__table__
_messages = Message.__table__
_articles = Article.__table__


@dataclass(frozen=True)
class GapQuestion:
    """A customer question the bot could not answer, and how the bot replied."""

    message_id: int
    conversation_id: str
    text: str
    asked_at: datetime
    why: str  # "clarify:<reason>" or "handoff:<handoff_reason>"


@dataclass(frozen=True)
class Cluster:
    """The questions of one cluster, before they are summarised for the report."""

    id: str
    rows: list[GapQuestion]
    questions: list[str]  # distinct texts as first written, most typical first
    centroid: np.ndarray  # unit length

    @property
    def last_seen(self) -> datetime:
        """When the latest of its questions was asked."""
        return max(q.asked_at for q in self.rows)


def normalise(text: str) -> str:
    """The form questions are compared in: one line, case-folded."""
    return " ".join(text.split()).casefold()


def gap_questions(conn: Connection, *, since: datetime, limit: int) -> list[GapQuestion]:
    """The `limit` most recent customer questions since `since` that the bot answered with a
    clarification or a low-confidence / repeated-fallback handoff, newest first."""
    bot = _messages.alias("bot")
    customer = _messages.alias("customer")
    kind = bot.c.meta["kind"].as_string()
    handoff_reason = bot.c.meta["handoff_reason"].as_string()
    reason = bot.c.meta["reason"].as_string()
    query = (
        select(
            customer.c.id,
            customer.c.conversation_id,
            customer.c.text,
            customer.c.created_at,
            kind,
            reason,
            handoff_reason,
        )
        .select_from(
            _events.join(
                bot,
                and_(
                    bot.c.conversation_id == _events.c.conversation_id,
                    bot.c.seq == _events.c.data["seq"].as_integer(),
                ),
            ).join(
                customer,
                and_(
                    customer.c.conversation_id == bot.c.conversation_id,
                    customer.c.seq == bot.c.reply_to_seq,
                ),
            )
        )
        .where(
            _events.c.type.in_(GAP_EVENTS),
            _events.c.created_at >= since,
            bot.c.author == Author.BOT.value,
            customer.c.author == Author.CUSTOMER.value,
            or_(
                kind == "clarify",
                and_(kind == "handoff", handoff_reason.in_(GAP_HANDOFF_REASONS)),
            ),
        )
        .order_by(_events.c.created_at.desc(), _events.c.id.desc())
        .limit(limit)
    )
    found = []
    for message_id, conversation_id, text, asked_at, k, r, hr in conn.execute(query):
        why = f"clarify:{r}" if k == "clarify" else f"handoff:{hr}"
        found.append(GapQuestion(message_id, conversation_id, text, asked_at, why))
    return found


def article_questions(conn: Connection) -> Held:
    """Every article's title and alternate questions (normalised) → (id, title, status)."""
    held: Held = {}
    rows = conn.execute(
        select(_articles.c.id, _articles.c.title, _articles.c.status, _articles.c.questions)
    )
    for article_id, title, status, questions in rows:
        for text in [title, *(questions or [])]:
            held.setdefault(normalise(text), (article_id, title, status))
    return held


def _gap_data(conn: Connection, *, since: datetime, limit: int) -> tuple[list[GapQuestion], Held]:
    return gap_questions(conn, since=since, limit=limit), article_questions(conn)


class _VectorCache:
    """Question vectors by (model, text), least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    def get(self, key: tuple[str, str]) -> np.ndarray | None:
        vector = self._vectors.get(key)
        if vector is not None:
            self._vectors.move_to_end(key)
        return vector

    def put(self, key: tuple[str, str], vector: np.ndarray) -> None:
        self._vectors[key] = vector
        self._vectors.move_to_end(key)
        while len(self._vectors) > self._size:
            self._vectors.popitem(last=False)


_cache = _VectorCache(CACHE_SIZE)


@dataclass(frozen=True)
class GapSources:
    """What finding gaps reads: stored questions, the encoder, and the live index."""

    db: Database
    batcher: MicroBatcher
    model_key: str
    dimension: int
    knowledge: KnowledgeIndex
    answer_threshold: float


async def embed(sources: GapSources, texts: list[str]) -> np.ndarray:
    """Unit vectors of `texts` (n, d): cached ones reused, the rest encoded in bulk (in chunks,
    between which customers' messages are encoded)."""
    model = sources.model_key
    found = {t: v for t in dict.fromkeys(texts) if (v := _cache.get((model, t))) is not None}
    missing = [t for t in dict.fromkeys(texts) if t not in found]
    if missing:
        vectors = await sources.batcher.encode_many(missing)
        for text, vector in zip(missing, vectors, strict=True):
            found[text] = np.asarray(vector, dtype=np.float32)
            _cache.put((model, text), found[text])
    if not texts:
        return np.zeros((0, sources.dimension), np.float32)
    return np.vstack([found[t] for t in texts])


def cluster_labels(vectors: np.ndarray, threshold: float = DISTANCE_THRESHOLD) -> np.ndarray:
    """A cluster label per row of unit `vectors` (average linkage, cosine distance cut at
    `threshold`). CPU-bound: call it in a worker thread."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=np.int64)
    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=threshold
    )
    return model.fit_predict(vectors).astype(np.int64)


def cluster_id(oldest_message_id: int) -> str:
    """The public id of the cluster whose oldest question is this message."""
    return hashlib.sha256(f"gap:{oldest_message_id}".encode()).hexdigest()[:16]


def _clusters(
    questions: list[GapQuestion], vectors: np.ndarray, labels: np.ndarray
) -> list[Cluster]:
    """Clusters of distinct texts expanded to their questions; each with its centroid (the
    normalised mean over its questions, so a text asked often weighs more) and its texts in
    order of cosine to that centroid."""
    by_key: dict[str, list[GapQuestion]] = {}
    for question in questions:
        by_key.setdefault(normalise(question.text), []).append(question)
    keys = list(by_key)
    members: dict[int, list[int]] = {}
    for index, label in enumerate(labels.tolist()):
        members.setdefault(label, []).append(index)
    clusters = []
    for indices in members.values():
        weights = np.array([len(by_key[keys[i]]) for i in indices], dtype=np.float64)
        mean = (vectors[indices].astype(np.float64) * weights[:, None]).sum(axis=0)
        norm = np.linalg.norm(mean)
        centroid = (mean / norm if norm > 1e-12 else mean).astype(np.float32)
        closeness = vectors[indices] @ centroid
        ordered = [indices[i] for i in np.argsort(-closeness, kind="stable").tolist()]
        rows = [q for i in ordered for q in by_key[keys[i]]]
        # Show each distinct text as its most recent asker wrote it.
        texts = [" ".join(by_key[keys[i]][0].text.split()) for i in ordered]
        oldest = min(q.message_id for q in rows)
        clusters.append(Cluster(cluster_id(oldest), rows, texts, centroid))
    return clusters


def _held_by(texts: list[str], held: Held) -> HeldBy | None:
    hits = Counter(held[normalise(t)] for t in texts if normalise(t) in held)
    if not hits:
        return None
    (article_id, title, status), count = hits.most_common(1)[0]
    return HeldBy(article_id=article_id, title=title, status=status, questions=count)


def summarise(sources: GapSources, cluster: Cluster, held: Held) -> GapCluster:
    """What the report shows of a cluster: counts, examples, times, the closest published
    article (searched with the cluster's centroid) and any article holding its questions."""
    hits = sources.knowledge.search(cluster.centroid, limit=1)
    closest = (
        ClosestArticle(
            article_id=hits[0].article.id,
            title=hits[0].article.title,
            score=round(hits[0].score, 4),
        )
        if hits
        else None
    )
    asked = [q.asked_at for q in cluster.rows]
    return GapCluster(
        id=cluster.id,
        count=len(cluster.rows),
        conversations=len({q.conversation_id for q in cluster.rows}),
        examples=cluster.questions[:MAX_EXAMPLES],
        first_seen=min(asked),
        last_seen=max(asked),
        reasons=dict(Counter(q.why for q in cluster.rows).most_common()),
        closest_article=closest,
        covered=closest is not None and closest.score >= sources.answer_threshold,
        held_by=_held_by(cluster.questions, held),
    )


async def find_clusters(
    sources: GapSources, *, days: int, min_size: int
) -> tuple[GapReport, list[Cluster], Held]:
    """Every cluster of at least `min_size` questions from the last `days` days, largest (then
    latest) first; the report without its clusters, for the caller to summarise a page of
    them; and the questions articles hold (see `summarise`)."""
    since = utcnow() - timedelta(days=days)
    questions, held = await sources.db.read(_gap_data, since=since, limit=MAX_QUESTIONS + 1)
    truncated = len(questions) > MAX_QUESTIONS
    questions = questions[:MAX_QUESTIONS]
    distinct: dict[str, str] = {}
    for question in questions:
        distinct.setdefault(normalise(question.text), question.text)
    vectors = await embed(sources, list(distinct.values()))
    labels = await asyncio.to_thread(cluster_labels, vectors)
    clusters = [c for c in _clusters(questions, vectors, labels) if len(c.rows) >= min_size]
    clusters.sort(key=lambda c: (-len(c.rows), -c.last_seen.timestamp()))
    report = GapReport(
        days=days,
        since=since,
        questions=len(questions),
        truncated=truncated,
        max_questions=MAX_QUESTIONS,
        min_size=min_size,
        distance_threshold=DISTANCE_THRESHOLD,
        total_clusters=len(clusters),
        clusters=[],
    )
    return report, clusters, held


def _clip(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters (with an ellipsis)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def draft_for(cluster: Cluster, summary: GapCluster) -> ArticleDraft:
    """A draft article for a cluster: its most typical question as the title, its distinct
    questions (up to the article limit; overlong ones left out) as alternate questions, and a
    body that says the answer is still to be written."""
    title = _clip(cluster.questions[0], MAX_TITLE_CHARS)
    questions = [
        q
        for q in cluster.questions
        if len(q) <= MAX_QUESTION_CHARS and normalise(q) != normalise(title)
    ][:MAX_ARTICLE_QUESTIONS]
    closest = summary.closest_article
    body = DRAFT_BODY.format(
        count=summary.count,
        first=summary.first_seen.strftime("%Y-%m-%d %H:%M"),
        last=summary.last_seen.strftime("%Y-%m-%d %H:%M"),
        closest=(
            f' The closest published article is "{closest.title}" (id {closest.article_id}, '
            f"score {closest.score:.2f}): extend it instead if it is the right place."
            if closest
            else ""
        ),
    )
    return ArticleDraft(
        title=title, body=body, questions=questions, tags=[DRAFT_TAG], status="draft"
    )


def pick(clusters: list[Cluster], wanted: str, *, days: int, min_size: int) -> Cluster:
    """The cluster with id `wanted`; 404 saying why it may be gone."""
    for cluster in clusters:
        if cluster.id == wanted:
            return cluster
    raise NotFound(
        f"no knowledge-gap cluster {wanted!r} with at least {min_size} question(s) in the last "
        f"{days} day(s); its questions may have aged out or been regrouped: reload "
        "GET /api/v1/admin/insights/gaps with the same days and min_size and use an id from it"
    )


def check_not_held(held: HeldBy | None, distinct: int) -> None:
    """409 when `held` makes a new draft redundant: it is a draft listing any of the cluster's
    `distinct` questions (e.g. one made from it earlier), or an article listing half or more."""
    if held is None or not (held.status == "draft" or 2 * held.questions >= distinct):
        return
    raise Conflict(
        f"article {held.article_id} ({held.status}, {held.title!r}) already lists "
        f"{held.questions} of this cluster's questions; edit that article instead",
        article_id=held.article_id,
    )


def create_draft(
    conn: Connection, *, cluster: Cluster, summary: GapCluster, author_id: int
) -> dict[str, Any]:
    """Store the draft for `cluster`; 409 when an article holds its questions (checked in the
    same transaction, so a second click makes no second draft)."""
    held = _held_by(cluster.questions, article_questions(conn))
    check_not_held(held, len(cluster.questions))
    return create_article(conn, draft=draft_for(cluster, summary), author_id=author_id)
