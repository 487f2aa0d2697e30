"""Insights for admins: what customers asked that the bot could not answer (knowledge gaps,
grouped into clusters, one call from a draft article) and the health of the knowledge base
(near-duplicate articles, articles that never match, counts by status)."""
