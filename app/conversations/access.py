"""Customer access to a conversation: the bearer token checked against the stored digest, and
the token's expiry after `retention.customer_token_days` without activity.

Digests never change once a conversation exists, so they are cached in process (a bounded LRU)
with the conversation's last activity (`updated_at`: every customer turn and staff action moves
it); a turn then needs no database round trip to authenticate. Only when the cached activity
looks too old is the row read again (another process may have seen newer activity), and the
token is refused (403 `token_expired`) only if the stored activity is too old as well.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cachetools import LRUCache

from app.conversations import service as conversation_service
from app.db import Database, utcnow
from app.errors import ConversationNotFound, Forbidden
from app.security import token_matches


class TokenExpired(Forbidden):
    """The conversation's token has not been used for too long."""

    code = "token_expired"

    def __init__(self, days: float) -> None:
        super().__init__(
            f"this conversation's token expired after {days:g} days without activity; "
            "start a new conversation (POST /api/v1/conversations)",
            start_new=True,
        )


class CustomerAccess:
    """Checks customer tokens, remembering up to `cache_size` conversations' digests."""

    def __init__(
        self, db: Database, *, token_days: float = 30.0, cache_size: int = 100_000
    ) -> None:
        self._db = db
        self._token_days = token_days
        self._lifetime = timedelta(days=token_days)
        self._cached: LRUCache[str, tuple[str, datetime]] = LRUCache(maxsize=cache_size)

    async def _load(self, conversation_id: str) -> tuple[str, datetime]:
        found = await self._db.read(
            conversation_service.get_token_access, conversation_id=conversation_id
        )
        if found is None:
            self._cached.pop(conversation_id, None)
            raise ConversationNotFound(conversation_id)
        self._cached[conversation_id] = found
        return found

    async def check(self, *, conversation_id: str, token: str) -> None:
        """Return if `token` opens the conversation; 404 if it does not exist, 403 otherwise
        (`token_expired` when it has not been used for `token_days`)."""
        cached = self._cached.get(conversation_id)
        digest, active = cached if cached is not None else await self._load(conversation_id)
        if not token_matches(token, digest):
            raise Forbidden("this token does not open this conversation")
        oldest = utcnow() - self._lifetime
        if active < oldest and cached is not None:
            digest, active = await self._load(conversation_id)
        if active < oldest:
            raise TokenExpired(self._token_days)
