"""Customer-facing HTTP routes: open a conversation, post a message, read messages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.engine import Connection

from app.agents.ratings import rate
from app.agents.schemas import (
    ContactIn,
    CsatIn,
    CsatRead,
    CustomerConversationView,
    StaffConversationView,
)
from app.agents.service import set_contact_email
from app.agents.views import customer_view, staff_view
from app.auth import service as auth_service
from app.conversations import service as conversation_service
from app.conversations.schemas import (
    ConversationCreated,
    MessageIn,
    MessagePage,
    TurnResult,
)
from app.conversations.service import ConversationSummary, StoredMessage
from app.conversations.turn import handle_customer_message
from app.conversations.views import message_read, message_staff_read
from app.deps import BearerToken, RuntimeDep
from app.errors import Forbidden, NotFound, PayloadTooLarge


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


@router.get(
    "/{conversation_id}",
    response_model=CustomerConversationView | StaffConversationView,
    responses={
        200: {
            "description": "With the customer's token: status, the assigned agent's display "
            "name, whether a rating is due. With a staff token: everything, with the event "
            "history (StaffConversationView)."
        }
    },
)
async def get_conversation(
    conversation_id: str, token: BearerToken, runtime: RuntimeDep
) -> CustomerConversationView | StaffConversationView:
    """The conversation as its customer sees it, or whole for staff."""
    try:
        await runtime.customer_access.check(conversation_id=conversation_id, token=token)
    except Forbidden:
        staff = await runtime.db.read(auth_service.user_for_token, token=token)
        if staff is None:
            raise
        view = await runtime.db.read(staff_view, conversation_id=conversation_id)
        view["messages"] = [message_staff_read(m) for m in view["messages"]]
        return StaffConversationView.model_validate(view)
    return CustomerConversationView.model_validate(
        await runtime.db.read(customer_view, conversation_id=conversation_id)
    )


@router.post("/{conversation_id}/csat", status_code=status.HTTP_201_CREATED)
async def rate_conversation(
    conversation_id: str, csat_in: CsatIn, token: BearerToken, runtime: RuntimeDep
) -> CsatRead:
    """Rate the conversation's latest resolution, 1..5 with an optional comment (once per
    resolution; 409 before it is resolved or when already rated)."""
    await runtime.customer_access.check(conversation_id=conversation_id, token=token)
    stored = await runtime.db.run(
        rate, conversation_id=conversation_id, score=csat_in.score, comment=csat_in.comment
    )
    return CsatRead.model_validate(stored)


@router.post("/{conversation_id}/contact")
async def leave_contact(
    conversation_id: str, contact_in: ContactIn, token: BearerToken, runtime: RuntimeDep
) -> CustomerConversationView:
    """Leave an email address so the team can follow up (when nobody could reply live)."""
    await runtime.customer_access.check(conversation_id=conversation_id, token=token)

    def save(conn: Connection) -> dict[str, Any]:
        set_contact_email(conn, conversation_id=conversation_id, email=contact_in.email)
        return customer_view(conn, conversation_id=conversation_id)

    return CustomerConversationView.model_validate(await runtime.db.run(save))


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
