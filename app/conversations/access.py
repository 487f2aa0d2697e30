"""Customer access to a conversation: the bearer token checked against the stored digest.

Digests never change once a conversation exists, so they are cached in process (a bounded LRU);
a turn then needs no database round trip to authenticate.
"""

from __future__ import annotations

from cachetools import LRUCache

from app.conversations import service as conversation_service
from app.db import Database
from app.errors import ConversationNotFound, Forbidden
from app.security import token_matches


class CustomerAccess:
    """Checks customer tokens, remembering up to `cache_size` conversations' digests."""

    def __init__(self, db: Database, *, cache_size: int = 100_000) -> None:
        self._db = db
        self._digests: LRUCache[str, str] = LRUCache(maxsize=cache_size)

    async def check(self, *, conversation_id: str, token: str) -> None:
        """Return if `token` opens the conversation; 404 if it does not exist, 403 otherwise."""
        digest = self._digests.get(conversation_id)
        if digest is None:
            digest = await self._db.read(
                conversation_service.get_token_hash, conversation_id=conversation_id
            )
            if digest is None:
                raise ConversationNotFound(conversation_id)
            self._digests[conversation_id] = digest
        if not token_matches(token, digest):
            raise Forbidden("this token does not open this conversation")
