"""Customer-facing HTTP routes: open a conversation, post a message, read messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.engine import Connection

from app.conversations import service as conversation_service
from app.conversations.schemas import (
    ConversationCreated,
    ConversationRead,
    MessageIn,
    MessagePage,
    TurnResult,
)
from app.conversations.service import ConversationSummary, StoredMessage
from app.conversations.turn import handle_customer_message, message_read
from app.deps import BearerToken, RuntimeDep
from app.errors import NotFound, PayloadTooLarge


def _summary_and_messages(
    conn: Connection, *, conversation_id: str, after: int, limit: int
) -> tuple[ConversationSummary, list[StoredMessage]]:
    conversation = conversation_service.get_summary(conn, conversation_id=conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    messages = conversation_service.list_after(
        conn, conversation_id=conversation_id, after=after, limit=limit
    )
    return conversation, messages


router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_conversation(runtime: RuntimeDep) -> ConversationCreated:
    """Open a conversation; the returned token is the customer's only key to it."""
    conversation, token = await runtime.db.run(conversation_service.create)
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
    await runtime.customer_access.check(conversation_id=conversation_id, token=token)
    conversation = await runtime.db.read(
        conversation_service.get_summary, conversation_id=conversation_id
    )
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    return ConversationRead.model_validate(conversation, from_attributes=True)


@router.post(
    "/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=TurnResult,
    responses={200: {"model": TurnResult, "description": "A retry, answered from storage"}},
)
async def post_message(
    conversation_id: str,
    message_in: MessageIn,
    token: BearerToken,
    runtime: RuntimeDep,
) -> Response:
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
    # Serialised once here: the result is already a validated model.
    response = Response(
        outcome.result.model_dump_json(),
        status_code=status.HTTP_200_OK if outcome.replayed else status.HTTP_201_CREATED,
        media_type="application/json",
    )
    if outcome.timings:
        response.headers["Server-Timing"] = ", ".join(
            f"{stage};dur={ms:.2f}" for stage, ms in outcome.timings.items()
        )
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@router.get("/{conversation_id}/messages")
async def list_messages(
    conversation_id: str,
    token: BearerToken,
    runtime: RuntimeDep,
    after: Annotated[
        int, Query(ge=0, le=2**31 - 1, description="Return messages with seq > after.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Most messages returned.")] = 100,
) -> MessagePage:
    """Messages after `after`, in order; page on with the last `seq` received."""
    await runtime.customer_access.check(conversation_id=conversation_id, token=token)
    conversation, messages = await runtime.db.read(
        _summary_and_messages, conversation_id=conversation_id, after=after, limit=limit
    )
    return MessagePage(
        messages=[message_read(m) for m in messages],
        last_seq=conversation.last_seq,
        has_more=bool(messages) and messages[-1].seq < conversation.last_seq,
    )
