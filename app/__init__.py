"""Switchboard: AI-assisted customer-support chat."""
