"""Offline evaluation scripts (not part of the shipped `app` package); see docs/EVALUATION.md."""
