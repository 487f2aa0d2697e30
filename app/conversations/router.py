"""Customer-facing HTTP routes: open a conversation, rate it, leave a contact email, read its
messages. Posting a message is the bot's turn (`app/bot/router.py`); the conversation's view
with a staff token is the agents' (`app/agents/router.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.conversations import service as conversation_service
from app.conversations.contact import save_contact_email
from app.conversations.customers import customer_read, verified_customer
from app.conversations.deps import CustomerAccessDep
from app.conversations.ratings import rate
from app.conversations.schemas import (
    ContactIn,
    ConversationCreated,
    ConversationOpen,
    CsatIn,
    CsatRead,
    CustomerConversationView,
    MessagePage,
)
from app.conversations.views import message_read
from app.deps import BearerToken, ClientAddress, DbDep, RateLimitsDep, SettingsDep
from app.error_responses import CUSTOMER, errors
from app.query_types import WHOLE

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=errors(
        413,
        422,
        503,
        507,
        described={
            400: "A customer signature that does not match, or that this service has no "
            "identity secret to check",
            429: "Too many new conversations from this address; see Retry-After",
        },
    ),
)
async def create_conversation(
    db: DbDep,
    settings: SettingsDep,
    limits: RateLimitsDep,
    address: ClientAddress,
    open_in: ConversationOpen | None = None,
) -> ConversationCreated:
    """Open a conversation; the returned token is the customer's only key to it. A body
    `{"customer": {"id", "email", "name", "signature"}}` signed by the host site's server
    (hex HMAC-SHA256 of the id with SWITCHBOARD_IDENTITY__SECRET) opens it for that verified
    customer; without a signature the visitor is anonymous."""
    await limits.hit(limits.new_conversation, address)
    customer = verified_customer(open_in.customer if open_in else None, settings.identity.secret)
    conversation, token = await db.run(conversation_service.create, customer=customer)
    return ConversationCreated(
        id=conversation.id,
        token=token,
        status=conversation.status,
        created_at=conversation.created_at,
        customer=customer_read(customer),
    )


@router.post(
    "/{conversation_id}/csat",
    status_code=status.HTTP_201_CREATED,
    responses={**CUSTOMER, **errors(409)},
)
async def rate_conversation(
    conversation_id: str,
    csat_in: CsatIn,
    token: BearerToken,
    db: DbDep,
    access: CustomerAccessDep,
) -> CsatRead:
    """Rate the conversation's latest resolution, 1..5 with an optional comment (once per
    resolution; 409 before it is resolved or when already rated)."""
    await access.check(conversation_id=conversation_id, token=token)
    stored = await db.run(
        rate, conversation_id=conversation_id, score=csat_in.score, comment=csat_in.comment
    )
    return CsatRead.model_validate(stored)


@router.post("/{conversation_id}/contact", responses=CUSTOMER)
async def leave_contact(
    conversation_id: str,
    contact_in: ContactIn,
    token: BearerToken,
    db: DbDep,
    access: CustomerAccessDep,
) -> CustomerConversationView:
    """Leave an email address so the team can follow up (when nobody could reply live)."""
    await access.check(conversation_id=conversation_id, token=token)
    view = await db.run(save_contact_email, conversation_id=conversation_id, email=contact_in.email)
    return CustomerConversationView.model_validate(view)


@router.get("/{conversation_id}/messages", responses=CUSTOMER)
async def list_messages(
    conversation_id: str,
    token: BearerToken,
    db: DbDep,
    access: CustomerAccessDep,
    after: Annotated[
        int, Query(ge=0, le=2**31 - 1, description="Return messages with seq > after."), WHOLE
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Most messages returned."), WHOLE] = 100,
) -> MessagePage:
    """Messages after `after`, in order; page on with the last `seq` received."""
    await access.check(conversation_id=conversation_id, token=token)
    conversation, messages = await db.read(
        conversation_service.summary_and_messages,
        conversation_id=conversation_id,
        after=after,
        limit=limit,
    )
    return MessagePage(
        messages=[message_read(m) for m in messages],
        last_seq=conversation.last_seq,
        has_more=bool(messages) and messages[-1].seq < conversation.last_seq,
    )
