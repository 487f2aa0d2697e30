"""Conversations with customers: their messages, events, the turn pipeline and the routes."""
