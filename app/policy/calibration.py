"""Calibration of raw retrieval scores into the probabilities the policy compares."""

from __future__ import annotations

import math

from app.policy.settings import PolicySettings


def kb_confidence(top_score: float, settings: PolicySettings) -> float:
    """The calibrated probability that the best article answers (logistic in its score)."""
    slope, intercept = settings.kb_calibration
    return 1.0 / (1.0 + math.exp(-(slope * top_score + intercept)))
