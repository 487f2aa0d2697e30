"""Every threshold the policy uses, named and documented in one typed object."""

from __future__ import annotations

from pydantic import BaseModel, Field

# Calibrated by `scripts/calibrate_threshold.py` (chosen on CLINC150, reported on BANKING77-OOS);
# see docs/EVALUATION.md. Update both when the model or the scoring changes.
DEFAULT_ANSWER_THRESHOLD = 0.50
# Chosen by `scripts/calibrate_policy.py` on CLINC150 val + Bitext dev, never on a reported split
# (see docs/EVALUATION.md): the margin is the smallest that keeps wrong answers at or under 5% on
# each calibration set (the product's target); the calibration is a Platt fit of "the top article
# is right" on its score.
DEFAULT_AMBIGUITY_MARGIN = 0.08
# Routing an intent asks two questions apart (app/policy/decision.py, `routes_intent`): is the
# message one of the intents at all, and is this intent the likely one. Both chosen by
# `scripts/calibrate_routing.py` on CLINC150 val and a held-out fifth of BANKING77 train, never
# on a reported split; see docs/EVALUATION.md ("served").
DEFAULT_INTENT_THRESHOLD = 0.5
DEFAULT_INTENT_SCOPE_THRESHOLD = 0.55
DEFAULT_KB_CALIBRATION = (6.1, -2.0)
# Chosen by `scripts/eval_human_requests.py` on the `calibrate` rows of
# app/nlp/data/human_requests.csv (the centre of the thresholds that maximise recall minus false
# fires there), never on the held-out file it reports; see docs/EVALUATION.md.
DEFAULT_HUMAN_REQUEST_THRESHOLD = 0.5


class PolicySettings(BaseModel):
    """Thresholds of the turn policy (env: `SWITCHBOARD_POLICY__<NAME>`)."""

    model_config = {"frozen": True}

    answer_threshold: float = Field(
        DEFAULT_ANSWER_THRESHOLD,
        ge=0.0,
        le=1.0,
        description=(
            "Minimum article score (cosine similarity of the article's best matching title, "
            "alternate question or body chunk, less a penalty when the article as a whole fits "
            "worse than another; see app/kb/vector_index.py) to answer from it; below it the "
            "bot says it is not sure and offers the closest topics."
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
    ambiguity_margin: float = Field(
        DEFAULT_AMBIGUITY_MARGIN,
        ge=0.0,
        le=0.5,
        description=(
            "When the runner-up article scores within this of the best one, the bot asks which "
            "one the customer means instead of guessing (0 turns it off)."
        ),
    )
    intent_threshold: float = Field(
        DEFAULT_INTENT_THRESHOLD,
        ge=0.0,
        le=1.0,
        description=(
            "Minimum calibrated probability of the best intent among the intents, "
            "P(intent | in scope), to run it once the message is in scope; below it the bot "
            "asks back rather than risk the wrong action."
        ),
    )
    intent_scope_threshold: float = Field(
        DEFAULT_INTENT_SCOPE_THRESHOLD,
        ge=0.0,
        le=1.0,
        description=(
            "Minimum in-scope score of a message (the smaller of the classifier's typicality "
            "gate and its calibrated match with the intent's closest example) to take it as "
            "one of the intents at all; below it the intents are out of scope and the "
            "knowledge base answers if it can."
        ),
    )
    kb_calibration: tuple[float, float] = Field(
        DEFAULT_KB_CALIBRATION,
        description=(
            "Logistic calibration `(slope, intercept)` turning the best article's score into "
            "the probability that it answers the question; compared with the intent "
            "confidence when both match."
        ),
    )
    sentiment_handoff_level: float = Field(
        -0.6,
        ge=-1.0,
        le=1.0,
        description=(
            "A message scoring at or below this hands the conversation to a person (chosen with "
            "the trend on the tune split of our calm and frustrated conversation sets, see "
            "scripts/eval_sentiment_conversations.py)."
        ),
    )
    sentiment_trend_handoff: float = Field(
        -0.3,
        ge=-2.0,
        le=0.0,
        description=(
            "A conversation whose sentiment trend falls to or below this hands off "
            "(the trend is defined in app/nlp/sentiment.py)."
        ),
    )
    sentiment_trend_min_messages: int = Field(
        3, ge=2, le=50, description="Customer messages needed before the trend can hand off."
    )
    max_misses: int = Field(
        3,
        ge=1,
        le=20,
        description=(
            "Consecutive bot turns without progress (clarify, asking again) before it hands "
            "off with repeated_fallback."
        ),
    )
    handoff_after_failed_clarify: bool = Field(
        True,
        description=(
            "Hand off with low_confidence when the bot is still unsure right after a clarify."
        ),
    )
    handoff_on_action_failure: bool = Field(
        True,
        description="Hand off with action_failed when an intent's HTTP call fails.",
    )
    human_request_threshold: float = Field(
        DEFAULT_HUMAN_REQUEST_THRESHOLD,
        ge=0.0,
        le=1.0,
        description=(
            "A message whose request-for-a-person score (app/nlp/human_request.py) reaches "
            "this hands off with explicit_request."
        ),
    )
    human_request_patterns: bool = Field(
        False,
        description=(
            'Also recognise plain requests for a person ("agent please", "real person") with '
            "the built-in patterns, on top of the request model (off: the model covers them and "
            "the patterns only added false fires, docs/EVALUATION.md)."
        ),
    )
    # Follow-ups (app/policy/followups.py), chosen on the demo-store suite's follow-ups and
    # topic changes (tests/suites/demo_store), reported on the held-out suite.
    followup_weight: float = Field(
        1.0,
        ge=0.0,
        le=2.0,
        description=(
            "How much of the conversation's topic (the vector of the reading the previous turn "
            "acted on) is mixed into a message's vector for its context reading (0 turns "
            "context reading off)."
        ),
    )
    followup_margin: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description=(
            "How much more likely to be right the context reading must be than the message "
            "alone to be acted on, when the wording does not lean on the previous turn."
        ),
    )
    followup_cue_slack: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description=(
            'When the wording leans on the previous turn ("and for express?", "is there a fee '
            'for that?"), the context reading is acted on unless it is this much less likely '
            "to be right than the message alone."
        ),
    )
