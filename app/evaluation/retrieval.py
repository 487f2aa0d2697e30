"""`python -m app eval retrieval`: how well a knowledge-base folder answers labelled questions.

Everything runs through the code the service runs, nothing is re-implemented:

- the folder is read by the product loader (`app.kb.loader.load_folder`);
- the index is built by `KnowledgeIndex.rebuild` (passages from `article_passages`, the
  `VectorIndex`, article score = best passage cosine, clamped to 0..1) in a throw-away folder;
- queries are encoded by the product `Embedder` (the configured model and backend, exported
  models cached in `Settings().model_cache_dir`);
- each query is searched like a customer message (`max(retrieval.top_k, 10)` articles) and the
  policy `decide(signals, ConversationState(), Settings().policy)` runs on signals built from the
  knowledge-base hits alone: candidates with their scores and `kb_confidence` from
  `app.policy.calibration`. No intent, sentiment or pattern signal takes part, so the
  figures are those of a first message that only the knowledge base can answer.

The test file is a CSV with a `text,label` header; `label` is the slug of the article that should
answer (its file stem, lower case; a path below the folder for nested articles), or the
out-of-scope label (`oos` by default) when no article should.

Reported: P@1, MRR@10 and Hit@3 of the ranking, and the policy's outcome for in-scope questions:
**resolved** (answered with the right article), **wrong** (answered with another article) and
**deflected** (a clarify because the top two were too close, a clarify because the best was
below the answer threshold, or a handoff); for out-of-scope questions, the rate not answered.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from app.config import Settings
from app.kb.knowledge import KbHit, KnowledgeIndex
from app.kb.loader import ArticleIn, KbFormatError, load_folder
from app.kb.models import Article
from app.kb.service import article_from_file
from app.nlp.datasets import DatasetError, Labelled, read_labelled_csv
from app.nlp.embedder import Embedder
from app.policy.decision import (
    Candidate,
    ConversationState,
    Decision,
    DecisionKind,
    Reason,
    Signals,
    decide,
)
from app.policy.settings import PolicySettings

DEFAULT_OUT = Path("data/eval/retrieval.json")
DEFAULT_OOS_LABEL = "oos"
ENCODE_BATCH = 256
RANK_DEPTH = 10  # MRR@10 needs ten ranks; the service searches max(top_k, 10) articles

# Policy outcomes of one question, in report order.
RESOLVED = "resolved"
WRONG = "wrong"
CLARIFY_TOO_CLOSE = "clarify_too_close"
CLARIFY_LOW_CONFIDENCE = "clarify_low_confidence"
HANDOFF = "handoff"
DEFLECTED = (CLARIFY_TOO_CLOSE, CLARIFY_LOW_CONFIDENCE, HANDOFF)
OUTCOMES = (RESOLVED, WRONG, *DEFLECTED)
OUTCOME_NAMES = {
    RESOLVED: "resolved (answered, right article)",
    WRONG: "wrong (answered, another article)",
    CLARIFY_TOO_CLOSE: "deflected: clarify, top articles too close",
    CLARIFY_LOW_CONFIDENCE: "deflected: clarify, low confidence",
    HANDOFF: "deflected: handoff",
}


# --------------------------------------------------------------------------- the product's parts


def load_embedder(settings: Settings) -> Embedder:
    """The encoder the service loads, from the same settings (never downloads: the model ships
    in a package and its ONNX export is cached in `settings.model_cache_dir`)."""
    return Embedder(
        settings.embedding_model,
        backend=settings.embedding.backend,
        cache_dir=settings.model_cache_dir,
        threads=settings.embedding.threads,
    )


def encode_texts(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Unit vectors for `texts`, `ENCODE_BATCH` at a time to bound memory."""
    parts = [
        embedder.encode(list(texts[i : i + ENCODE_BATCH]))
        for i in range(0, len(texts), ENCODE_BATCH)
    ]
    if not parts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


def as_published(articles: Sequence[ArticleIn]) -> list[Article]:
    """Articles as the service holds them once synced: ids 1.. in folder order (the loader's
    sorted order, as a first sync inserts them), built the way `kb.service.sync_folder` does."""
    return [article_from_file(article, id=number) for number, article in enumerate(articles, 1)]


def build_knowledge(
    articles: Sequence[ArticleIn], embedder: Embedder, settings: Settings
) -> KnowledgeIndex:
    """The service's `KnowledgeIndex` over `articles`, built in a temporary folder (the service's
    own index cache is left alone)."""

    async def encode(texts: list[str]) -> np.ndarray:
        return encode_texts(embedder, texts)

    with tempfile.TemporaryDirectory(prefix="switchboard-eval-") as folder:
        knowledge = KnowledgeIndex(
            folder=Path(folder),
            model_key=embedder.key,
            dimension=embedder.dimension,
            chunk_words=settings.retrieval.chunk_words,
        )
        asyncio.run(knowledge.rebuild(as_published(articles), revision=1, encode=encode))
    return knowledge


def search_limit(settings: Settings) -> int:
    """How many articles the service fetches for a message (see `app.bot.understanding`)."""
    return max(settings.retrieval.top_k, RANK_DEPTH)


def kb_signals(hits: Sequence[KbHit], policy: PolicySettings) -> Signals:
    """The policy's signals for a message that only the knowledge base speaks to."""
    from app.policy.calibration import kb_confidence  # the service's calibration

    return Signals(
        candidates=tuple(Candidate(hit.article.id, hit.score) for hit in hits),
        kb_confidence=kb_confidence(hits[0].score, policy) if hits else 0.0,
    )


def kb_decision(hits: Sequence[KbHit], policy: PolicySettings) -> Decision:
    """The policy's decision on a first message with these knowledge-base hits."""
    return decide(kb_signals(hits, policy), ConversationState(), policy)


# --------------------------------------------------------------------------- one evaluation run


@dataclass(frozen=True)
class Retrieved:
    """One labelled question and the articles the index found for it, best first."""

    text: str
    label: str
    hits: tuple[KbHit, ...]

    @property
    def ranked(self) -> list[str]:
        """Slugs of the hits, best first."""
        return [hit.article.slug for hit in self.hits]

    @property
    def top_score(self) -> float:
        """The best article's score (0 when nothing was found)."""
        return self.hits[0].score if self.hits else 0.0


@dataclass(frozen=True)
class RetrievalRun:
    """The retrieval half of an evaluation: every question's hits (no policy yet), so that the
    policy can be re-run with other settings without encoding again."""

    articles: int
    oos_label: str
    queries: tuple[Retrieved, ...]

    def in_scope(self) -> list[Retrieved]:
        """Questions some article should answer."""
        return [q for q in self.queries if q.label != self.oos_label]

    def out_of_scope(self) -> list[Retrieved]:
        """Questions no article should answer."""
        return [q for q in self.queries if q.label == self.oos_label]


def unknown_labels(articles: Sequence[ArticleIn], rows: Labelled, oos_label: str) -> list[str]:
    """Labels of `rows` that name no article (and are not the out-of-scope label)."""
    slugs = {article.slug for article in articles}
    return sorted({label for _, label in rows if label != oos_label and label not in slugs})


def retrieve(
    articles: Sequence[ArticleIn],
    rows: Labelled,
    embedder: Embedder,
    settings: Settings,
    *,
    oos_label: str = DEFAULT_OOS_LABEL,
    vectors: np.ndarray | None = None,
) -> RetrievalRun:
    """Index `articles` and search every question of `rows` the way the service does (`vectors`:
    the questions already encoded, to search several knowledge bases with one encoding)."""
    knowledge = build_knowledge(articles, embedder, settings)
    if vectors is None:
        vectors = encode_texts(embedder, [text for text, _ in rows])
    limit = search_limit(settings)
    queries = tuple(
        Retrieved(text, label, tuple(knowledge.search(vector, limit=limit)))
        for (text, label), vector in zip(rows, vectors, strict=True)
    )
    return RetrievalRun(len(articles), oos_label, queries)


# --------------------------------------------------------------------------- metrics


def outcome_of(query: Retrieved, decision: Decision) -> str:
    """Which of `OUTCOMES` the policy's decision on an in-scope question is."""
    if decision.kind is DecisionKind.ANSWER:
        answered = next(h.article.slug for h in query.hits if h.article.id == decision.article_id)
        return RESOLVED if answered == query.label else WRONG
    if decision.kind is DecisionKind.HANDOFF:
        return HANDOFF
    if decision.reason is Reason.TOO_CLOSE:
        return CLARIFY_TOO_CLOSE
    return CLARIFY_LOW_CONFIDENCE


def _rate(count: int, total: int) -> float:
    return count / total if total else float("nan")


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _json_number(value: float) -> float | None:
    """`value` rounded for JSON; None for NaN (JSON has no NaN)."""
    return None if value != value else round(value, 4)


@dataclass(frozen=True)
class RetrievalReport:
    """Ranking metrics and policy outcomes of one run under one policy."""

    articles: int
    in_scope: int
    out_of_scope: int
    p_at_1: float
    mrr_at_10: float
    hit_at_3: float
    counts: dict[str, int]  # in-scope questions per outcome
    offered_right: int  # too-close clarifies whose suggestions include the right article
    oos_rejected: int  # out-of-scope questions not answered
    oos_too_close: int  # ... of which by a too-close clarify
    policy: PolicySettings

    def rate(self, outcome: str) -> float:
        """Fraction of in-scope questions with this outcome."""
        return _rate(self.counts[outcome], self.in_scope)

    @property
    def deflected(self) -> int:
        """In-scope questions the bot did not answer."""
        return sum(self.counts[name] for name in DEFLECTED)

    @property
    def oos_rejection(self) -> float:
        """Fraction of out-of-scope questions not answered (NaN when there are none)."""
        return _rate(self.oos_rejected, self.out_of_scope)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "articles": self.articles,
            "in_scope": self.in_scope,
            "out_of_scope": self.out_of_scope,
            "ranking": {
                "p_at_1": _json_number(self.p_at_1),
                "mrr_at_10": _json_number(self.mrr_at_10),
                "hit_at_3": _json_number(self.hit_at_3),
            },
            "outcomes": {
                name: {"count": self.counts[name], "rate": _json_number(self.rate(name))}
                for name in OUTCOMES
            },
            "deflected": {
                "count": self.deflected,
                "rate": _json_number(_rate(self.deflected, self.in_scope)),
            },
            "too_close_offered_right_article": self.offered_right,
            "oos": {
                "rejected": self.oos_rejected,
                "rejection_rate": _json_number(self.oos_rejection),
                "rejected_by_too_close": self.oos_too_close,
            },
            "policy": self.policy.model_dump(mode="json"),
        }


def reciprocal_rank(ranked: Sequence[str], label: str, depth: int = RANK_DEPTH) -> float:
    """1 / rank of `label` within the first `depth`, else 0."""
    for rank, slug in enumerate(ranked[:depth], start=1):
        if slug == label:
            return 1.0 / rank
    return 0.0


def evaluate(run: RetrievalRun, policy: PolicySettings) -> tuple[RetrievalReport, list[Decision]]:
    """Ranking metrics and the policy's outcomes under `policy`; the decisions per question (in
    the run's order)."""
    decisions = [kb_decision(query.hits, policy) for query in run.queries]
    counts: Counter[str] = Counter({name: 0 for name in OUTCOMES})
    offered_right = oos_rejected = oos_too_close = 0
    firsts: list[float] = []
    reciprocal: list[float] = []
    top3: list[float] = []
    for query, decision in zip(run.queries, decisions, strict=True):
        if query.label == run.oos_label:
            if decision.kind is not DecisionKind.ANSWER:
                oos_rejected += 1
                oos_too_close += decision.reason is Reason.TOO_CLOSE
            continue
        ranked = query.ranked
        firsts.append(float(ranked[:1] == [query.label]))
        reciprocal.append(reciprocal_rank(ranked, query.label))
        top3.append(float(query.label in ranked[:3]))
        outcome = outcome_of(query, decision)
        counts[outcome] += 1
        if outcome == CLARIFY_TOO_CLOSE:
            offered = {h.article.slug for h in query.hits if h.article.id in decision.suggestions}
            offered_right += query.label in offered
    report = RetrievalReport(
        articles=run.articles,
        in_scope=len(firsts),
        out_of_scope=len(run.queries) - len(firsts),
        p_at_1=_mean(firsts),
        mrr_at_10=_mean(reciprocal),
        hit_at_3=_mean(top3),
        counts=dict(counts),
        offered_right=offered_right,
        oos_rejected=oos_rejected,
        oos_too_close=oos_too_close,
        policy=policy,
    )
    return report, decisions


def _cell(count: int, total: int) -> str:
    return "n/a" if not total else f"{count / total:.3f} ({count:,})"


def markdown_report(report: RetrievalReport) -> str:
    """The report as a Markdown table (rates with counts)."""
    n = report.in_scope
    rows = [
        ("P@1", f"{report.p_at_1:.3f}" if n else "n/a"),
        ("MRR@10", f"{report.mrr_at_10:.3f}" if n else "n/a"),
        ("Hit@3", f"{report.hit_at_3:.3f}" if n else "n/a"),
        *((OUTCOME_NAMES[name], _cell(report.counts[name], n)) for name in (RESOLVED, WRONG)),
        ("deflected (all)", _cell(report.deflected, n)),
        *((OUTCOME_NAMES[name], _cell(report.counts[name], n)) for name in DEFLECTED),
        (
            "too-close clarifies offering the right article",
            _cell(report.offered_right, report.counts[CLARIFY_TOO_CLOSE]),
        ),
        ("out of scope: not answered", _cell(report.oos_rejected, report.out_of_scope)),
    ]
    lines = ["| metric | value |", "|:---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def query_details(run: RetrievalRun, decisions: Sequence[Decision]) -> list[dict[str, Any]]:
    """Per question: the text, the label, the top three articles and what the policy did."""
    details = []
    for query, decision in zip(run.queries, decisions, strict=True):
        slug_of = {hit.article.id: hit.article.slug for hit in query.hits}
        details.append(
            {
                "text": query.text,
                "label": query.label,
                "top": [[hit.article.slug, round(hit.score, 4)] for hit in query.hits[:3]],
                "decision": decision.kind.value,
                "reason": decision.reason.value,
                "article": slug_of.get(decision.article_id) if decision.article_id else None,
                "suggestions": [slug_of.get(i) for i in decision.suggestions],
                "outcome": None if query.label == run.oos_label else outcome_of(query, decision),
            }
        )
    return details


# --------------------------------------------------------------------------- the command


def retrieval_command(
    kb: Annotated[
        Path,
        typer.Option(
            "--kb", help="Knowledge-base folder (Markdown articles with front matter) to index."
        ),
    ],
    test: Annotated[
        Path,
        typer.Option(
            "--test",
            help="CSV with a text,label header; label = the slug (file stem) of the article "
            "that should answer, or the out-of-scope label.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the JSON report.")] = (
        DEFAULT_OUT
    ),
    oos_label: Annotated[
        str, typer.Option("--oos-label", help="The label of questions no article should answer.")
    ] = DEFAULT_OOS_LABEL,
) -> None:
    """Measure retrieval (P@1, MRR@10, Hit@3) and the policy's outcome (resolved, wrong,
    deflected; out-of-scope rejection) of a knowledge-base folder on labelled questions, using
    the service's loader, index, encoder and policy."""
    if not kb.is_dir():
        raise typer.BadParameter(f"{kb}: no such folder", param_hint="--kb")
    try:
        articles = load_folder(kb)
    except KbFormatError as exc:
        raise typer.BadParameter(str(exc), param_hint="--kb") from exc
    if not articles:
        raise typer.BadParameter(f"{kb}: no articles (*.md) found", param_hint="--kb")
    try:
        rows = read_labelled_csv(test)
    except DatasetError as exc:
        raise typer.BadParameter(str(exc), param_hint="--test") from exc
    unknown = unknown_labels(articles, rows, oos_label)
    if unknown:
        shown = ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise typer.BadParameter(
            f"{len(unknown)} label(s) name no article in {kb}: {shown} (labels are article "
            f"slugs, i.e. file stems in lower case; use {oos_label!r} for out-of-scope)",
            param_hint="--test",
        )

    settings = Settings()
    embedder = load_embedder(settings)
    run = retrieve(articles, rows, embedder, settings, oos_label=oos_label)
    report, decisions = evaluate(run, settings.policy)

    policy = settings.policy
    typer.echo(
        f"Knowledge base {kb}: {report.articles} articles. Questions {test}: "
        f"{report.in_scope:,} in scope, {report.out_of_scope:,} out of scope.\n"
        f"Policy: answer_threshold {policy.answer_threshold:.2f}, ambiguity_margin "
        f"{policy.ambiguity_margin:.2f}; encoder backend {embedder.backend}.\n"
    )
    typer.echo(markdown_report(report))
    payload = {
        "kb": str(kb),
        "test": str(test),
        "oos_label": oos_label,
        "encoder": {"model": settings.embedding_model, "backend": embedder.backend},
        **report.as_dict(),
        "queries": query_details(run, decisions),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    typer.echo(f"\nwrote {out}")
