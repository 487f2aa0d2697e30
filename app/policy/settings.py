"""Every threshold the policy uses, named and documented in one typed object."""

from __future__ import annotations

from pydantic import BaseModel, Field

# Calibrated by `scripts/calibrate_threshold.py` (chosen on CLINC150, reported on BANKING77-OOS);
# see docs/EVALUATION.md. Update both when the model or the scoring changes.
DEFAULT_ANSWER_THRESHOLD = 0.50


class PolicySettings(BaseModel):
    """Thresholds of the turn policy (env: `SWITCHBOARD_POLICY__<NAME>`)."""

    model_config = {"frozen": True}

    answer_threshold: float = Field(
        DEFAULT_ANSWER_THRESHOLD,
        ge=0.0,
        le=1.0,
        description=(
            "Minimum article score (cosine similarity of the article's best matching title, "
            "alternate question or body chunk) to answer from it; below it the bot says it is "
            "not sure and offers the closest topics."
        ),
    )
    clarify_suggestions: int = Field(
        3, ge=1, le=10, description="How many closest topics a clarify offers."
    )
    suggestion_floor: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Articles scoring below this are too far off to offer as suggestions.",
    )
