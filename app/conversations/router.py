"""Customer-facing HTTP routes: open a conversation, post a message, read messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.conversations import service as conversation_service
from app.conversations.schemas import (
    ConversationCreated,
    ConversationRead,
    MessageIn,
    MessagePage,
    TurnResult,
)
from app.conversations.turn import handle_customer_message, message_read
from app.deps import BearerToken, RuntimeDep
from app.errors import PayloadTooLarge

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_conversation(runtime: RuntimeDep) -> ConversationCreated:
    """Open a conversation; the returned token is the customer's only key to it."""
    async with runtime.db.sessions() as session:
        conversation, token = await conversation_service.create(session)
        await session.commit()
    return ConversationCreated(
        id=conversation.id,
        token=token,
        status=conversation.status,
        created_at=conversation.created_at,
    )


@router.get("/{conversation_id}")
async def get_conversation(
    conversation_id: str, token: BearerToken, runtime: RuntimeDep
) -> ConversationRead:
    """The conversation's status and last sequence number."""
    async with runtime.db.read_sessions() as session:
        conversation = await conversation_service.get_for_customer_or_raise(
            session, conversation_id=conversation_id, token=token
        )
    return ConversationRead.model_validate(conversation, from_attributes=True)


@router.post("/{conversation_id}/messages", status_code=status.HTTP_201_CREATED)
async def post_message(
    conversation_id: str,
    message_in: MessageIn,
    token: BearerToken,
    runtime: RuntimeDep,
    response: Response,
) -> TurnResult:
    """Post a customer message and get the bot's reply. A repeated `client_id` is stored once."""
    limit = runtime.settings.max_message_chars
    if len(message_in.text) > limit:
        raise PayloadTooLarge(
            f"text is {len(message_in.text)} characters; the limit is {limit}. "
            "Shorten the message or split it.",
            limit=limit,
        )
    outcome = await handle_customer_message(
        runtime, conversation_id=conversation_id, token=token, message_in=message_in
    )
    if outcome.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return outcome.result


@router.get("/{conversation_id}/messages")
async def list_messages(
    conversation_id: str,
    token: BearerToken,
    runtime: RuntimeDep,
    after: Annotated[int, Query(ge=0, description="Return messages with seq > after.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Most messages returned.")] = 100,
) -> MessagePage:
    """Messages after `after`, in order; page on with the last `seq` received."""
    async with runtime.db.read_sessions() as session:
        conversation = await conversation_service.get_for_customer_or_raise(
            session, conversation_id=conversation_id, token=token
        )
        messages = await conversation_service.list_after(
            session, conversation_id=conversation_id, after=after, limit=limit
        )
    return MessagePage(
        messages=[message_read(m) for m in messages],
        last_seq=conversation.last_seq,
        has_more=bool(messages) and messages[-1].seq < conversation.last_seq,
    )
