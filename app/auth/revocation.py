"""Telling every process that staff tokens were revoked, so live staff streams holding them
close at once (app/agents/stream.py) instead of at their next heartbeat.

Published on the user's own channel after the revocation is committed: over Redis when the
service runs several processes, in process otherwise. The event carries the token's digest
(as stored), never the token.
"""

from __future__ import annotations

from app.realtime.broker import Broker, agent_channel
from app.realtime.events import revocation_event
from app.security import hash_token

SIGNED_OUT = "the token was revoked (signed out); sign in again"
DEACTIVATED = "the account was deactivated; its tokens were revoked"


async def announce_token_revoked(broker: Broker, *, user_id: int, token: str) -> None:
    """`token` (of `user_id`) opens nothing any more: its streams close."""
    await broker.publish(
        agent_channel(user_id),
        revocation_event(user_id=user_id, token_digest=hash_token(token), reason=SIGNED_OUT),
    )


async def announce_user_revoked(broker: Broker, *, user_id: int, reason: str) -> None:
    """Every token of `user_id` stopped working (e.g. `DEACTIVATED`): all their streams close."""
    await broker.publish(
        agent_channel(user_id),
        revocation_event(user_id=user_id, token_digest=None, reason=reason),
    )
