"""Intents: definitions from YAML, slot reading, and the actions they run."""
