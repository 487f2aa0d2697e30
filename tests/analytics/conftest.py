"""The analytics tests reuse the agents' desk: an app with an admin and the agents Alice and
Bob, and helpers that hand conversations off as a customer would."""

from tests.agents.conftest import Desk, desk, start_desk

__all__ = ["Desk", "desk", "start_desk"]
