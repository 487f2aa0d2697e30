"""Response bodies of the insights API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ArticleBrief(BaseModel):
    """An article named in a report."""

    article_id: int
    title: str


class ClosestArticle(ArticleBrief):
    """The published article nearest to a cluster's questions, with its search score."""

    score: float = Field(description="The index's score for the cluster's centroid (0 to 1).")


class HeldBy(ArticleBrief):
    """An article that already lists some of a cluster's questions (e.g. its draft)."""

    status: str
    questions: int = Field(description="How many of the cluster's questions it lists.")


class GapCluster(BaseModel):
    """Customer questions the bot could not answer, alike in meaning."""

    id: str = Field(
        description="Stable while the cluster keeps its first question: new questions joining "
        "it do not change it."
    )
    count: int = Field(description="Questions in the cluster.")
    conversations: int = Field(description="Distinct conversations they came from.")
    examples: list[str] = Field(description="Up to 5 distinct questions, most typical first.")
    first_seen: datetime
    last_seen: datetime
    reasons: dict[str, int] = Field(
        description="How the bot replied, e.g. `clarify:low_confidence` (not sure), "
        "`clarify:too_close` (which one?), `handoff:low_confidence`, `handoff:repeated_fallback`."
    )
    closest_article: ClosestArticle | None = Field(
        description="The best published article for the cluster's centroid (None: empty KB)."
    )
    covered: bool = Field(
        description="Whether the closest article now clears the answer threshold (an article "
        "written since probably answers these questions)."
    )
    held_by: HeldBy | None = Field(
        description="An article that already lists some of these questions, such as a draft "
        "made from this cluster."
    )


class GapReport(BaseModel):
    """The knowledge-gaps report."""

    days: int
    since: datetime
    questions: int = Field(description="Unanswered questions considered.")
    truncated: bool = Field(
        description="True when the window held more than `max_questions`: only the most recent "
        "were clustered."
    )
    max_questions: int
    min_size: int
    distance_threshold: float = Field(
        description="Average-linkage cosine distance under which questions are grouped."
    )
    total_clusters: int = Field(description="Clusters of at least `min_size` questions.")
    clusters: list[GapCluster] = Field(description="Largest first, at most `limit`.")


class DuplicatePair(BaseModel):
    """Two published articles that say nearly the same thing."""

    a: ArticleBrief
    b: ArticleBrief
    score: float = Field(
        description="Passage overlap: the lower of the two articles' mean best-passage cosine "
        "against the other (1.0 for identical content)."
    )


class NeverMatched(ArticleBrief):
    """A published article no bot reply cited, suggested or ranked first in the window."""

    slug: str
    created_at: datetime
    updated_at: datetime
    age_days: float


class StatusCounts(BaseModel):
    """Articles by status."""

    published: int = 0
    draft: int = 0
    archived: int = 0
    total: int = 0


class KbHealth(BaseModel):
    """The knowledge-base health report."""

    days: int
    since: datetime
    replies: int = Field(description="Bot replies in the window (never-matched is read from them).")
    counts: StatusCounts
    duplicate_threshold: float
    near_duplicates: list[DuplicatePair] = Field(description="Most similar first.")
    never_matched: list[NeverMatched] = Field(description="Oldest first.")
