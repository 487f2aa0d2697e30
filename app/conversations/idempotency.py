"""Posts that carry a `client_id` are stored once: a retry (sequential or racing) gets what the
first post stored instead of a second copy.

The unique constraint on `(conversation_id, author, client_id)` is what guarantees it: a
retry's insert fails, its transaction rolls back, and `ClientPost.twin` finds the stored post.
`ClientPost.stored` looks first, where a caller must not repeat work (an intent's action, or an
agent's reply to a conversation that has since moved on).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from app.conversations import service as conversation_service
from app.conversations.service import StoredMessage
from app.db import Database
from app.errors import Conflict

StoredPost = tuple[StoredMessage, StoredMessage | None]  # the post and the bot's reply to it


class ClientPost:
    """A post of `text` by `author` under `client_id` (None: never a retry)."""

    def __init__(
        self,
        db: Database,
        *,
        conversation_id: str,
        author: str,
        client_id: str | None,
        text: str,
        same_sender: Callable[[StoredMessage], bool] = lambda _stored: True,
    ) -> None:
        self._db = db
        self.conversation_id = conversation_id
        self.author = author
        self.client_id = client_id
        self.text = text
        self._same_sender = same_sender

    async def stored(self) -> StoredPost | None:
        """The earlier post with this `client_id` and the reply to it, if there is one; 409
        when the id was used for another message."""
        if self.client_id is None:
            return None
        found = await self._db.read(
            conversation_service.find_client_post,
            conversation_id=self.conversation_id,
            client_id=self.client_id,
            author=self.author,
        )
        if found is not None and not (found[0].text == self.text and self._same_sender(found[0])):
            raise Conflict(
                f"client_id {self.client_id!r} was already used for a different message; "
                "use a new client_id for a new message"
            )
        return found

    async def twin(self, exc: IntegrityError) -> StoredPost:
        """After an insert failed with `exc`: the post stored first under this `client_id` (a
        retry, or a concurrent twin). Re-raises `exc` for any other integrity error; 409 when
        the competing post rolled back and there is nothing to replay."""
        if self.client_id is None or not conversation_service.is_duplicate_client_id(exc):
            raise exc
        found = await self.stored()
        if found is None:
            raise Conflict("a concurrent post with this client_id failed; retry it") from exc
        return found
