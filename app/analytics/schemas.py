"""Response bodies of the analytics API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class Durations(BaseModel):
    """A distribution of durations in seconds (None when there is nothing to measure).
    Percentiles interpolate linearly between the closest ranks (as PostgreSQL's
    `percentile_cont`), so the median of an even count is the mean of the middle two."""

    count: int = Field(description="How many durations were measured.")
    median_seconds: float | None
    p90_seconds: float | None


class DayCount(BaseModel):
    """One UTC day of the range."""

    date: date
    conversations: int = Field(description="Conversations started that day.")
    engaged: int = Field(description="Of those, conversations with a customer message.")
    handed_off: int = Field(description="Of those, conversations handed off to a person.")


class ConversationTotals(BaseModel):
    """Conversations started in the range and how they went (a conversation counts as handed
    off if it ever was, even after the range)."""

    total: int = Field(description="Conversations started in the range.")
    engaged: int = Field(description="Of those, conversations with at least one customer message.")
    contained: int = Field(description="Engaged conversations never handed off to a person.")
    handed_off: int = Field(description="Engaged conversations handed off at least once.")
    containment_rate: float | None = Field(description="contained / engaged (None: no engaged).")
    handoff_rate: float | None = Field(description="handed_off / engaged (None: no engaged).")


class ReasonCount(BaseModel):
    """Handoffs for one reason."""

    reason: str
    count: int
    share: float = Field(description="This reason's part of all handoffs in the range (0 to 1).")


class HandoffStats(BaseModel):
    """Handoffs (`conversation.handoff` events) that happened in the range."""

    total: int
    by_reason: list[ReasonCount] = Field(description="Most frequent first.")


class ScoreCount(BaseModel):
    """How many ratings gave one score."""

    score: int
    count: int


class CsatStats(BaseModel):
    """Customer ratings (`csat.submitted`) and resolutions (`conversation.resolved`) in the
    range."""

    count: int = Field(description="Ratings given.")
    average: float | None = Field(description="Mean score, 1 to 5 (None: no ratings).")
    resolutions: int = Field(description="Resolutions in the range.")
    response_rate: float | None = Field(
        description="Ratings / resolutions (None: no resolutions). A rating given in the range "
        "for a resolution before it counts too, so this can exceed 1 on short ranges."
    )
    distribution: list[ScoreCount] = Field(description="Scores 1 to 5 with their counts.")


class ResolutionTimes(BaseModel):
    """How long resolutions in the range took."""

    handled: Durations = Field(description="From the agent's assignment to the resolve.")
    since_handoff: Durations = Field(description="From the handoff to the resolve.")


class FirstResponse(Durations):
    """From a `conversation.assigned` event in the range to the first `agent.message` after
    it, while that agent still owned the conversation."""

    unanswered: int = Field(
        description="Assignments with no agent reply before the conversation was resolved, "
        "handed back, transferred, re-queued or re-assigned (or yet)."
    )


class AgentStats(BaseModel):
    """One agent's figures in the range."""

    agent_id: int
    name: str
    assignments: int = Field(description="Conversations assigned to them (claim or automatic).")
    first_response: FirstResponse
    resolutions: int = Field(description="Resolutions of conversations they owned.")
    resolution: Durations = Field(description="From their assignment to the resolve.")
    csat_count: int
    csat_average: float | None


class IntentStats(BaseModel):
    """One intent the bot worked on in the range (knowledge-base answers and handoffs outside
    an intent have none and are not listed)."""

    intent: str
    turns: int = Field(description="Bot replies with this intent.")
    conversations: int = Field(description="Distinct conversations with such a reply.")
    contained: int = Field(description="Of those, conversations never handed off.")
    containment_rate: float | None


class AnalyticsSummary(BaseModel):
    """The dashboard's figures for the UTC days `start` to `end`, both included."""

    start: date
    end: date
    days: int
    generated_at: datetime
    conversations: ConversationTotals
    per_day: list[DayCount] = Field(description="Every day of the range, oldest first.")
    handoffs: HandoffStats
    csat: CsatStats
    first_response: FirstResponse
    resolution: ResolutionTimes
    agents: list[AgentStats] = Field(description="Agents with activity, by name.")
    intents: list[IntentStats] = Field(description="Top intents, most conversations first.")
