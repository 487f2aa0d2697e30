"""Limits on abuse of the public endpoints: the shared `limits` storage (Redis when configured),
the named limits the settings describe, and the client address a request comes from."""
