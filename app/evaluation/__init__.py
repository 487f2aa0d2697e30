"""Offline evaluation of the product's own models (`python -m app eval ...`)."""
