"""Staff HTTP routes: the queue, claiming and working a conversation, canned responses,
presence (`/api/v1/agent/...`), the admins' canned-response management and deactivation of
accounts, and a conversation's view with a staff token (`GET /api/v1/conversations/{id}`).
Agent assist is the bot's (`app/bot/router.py`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.agents import canned as canned_service
from app.agents import service as agents_service
from app.agents.deps import StaffActionsDep
from app.agents.presence import list_presence, set_presence
from app.agents.queue import queue_and_online
from app.agents.schemas import (
    ActionResult,
    AgentMessageIn,
    AgentMessageResult,
    AgentPresence,
    CannedIn,
    CannedRead,
    NoteIn,
    NoteRead,
    PresenceIn,
    QueueItem,
    QueuePage,
    StaffConversationView,
    TransferIn,
)
from app.agents.service import Change
from app.agents.views import list_conversations, staff_view
from app.auth import service as auth_service
from app.auth.admin_router import UserId
from app.auth.deps import CurrentAdmin, CurrentStaff
from app.auth.revocation import DEACTIVATED, announce_user_revoked
from app.auth.schemas import UserRead
from app.conversations import service as conversation_service
from app.conversations.deps import CustomerAccessDep
from app.conversations.schemas import CustomerConversationView, MessagePage
from app.conversations.views import customer_view, message_staff_read
from app.cors_policy import mark_staff_only
from app.deps import BearerToken, BrokerDep, DbDep, SettingsDep
from app.error_responses import ADMIN, STAFF, errors
from app.errors import Conflict, Forbidden
from app.query_types import WHOLE
from app.realtime.broker import STAFF_CHANNEL
from app.realtime.events import presence_event

CannedId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A canned response's id."), WHOLE]

router = APIRouter(prefix="/api/v1/agent", tags=["agents"], responses=STAFF)
admin_router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=ADMIN)
conversation_router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])
users_router = APIRouter(prefix="/api/v1/admin/users", tags=["admin"], responses=ADMIN)
# What an action on one conversation can meet: not there, not yours, not in that state.
ON_A_CONVERSATION = errors(403, 404, 409)


def _action_result(change: Change) -> ActionResult:
    return ActionResult(
        conversation_id=change.conversation_id,
        status=change.status,
        agent={"id": change.agent.id, "name": change.agent.name} if change.agent else None,
        seq=change.last_seq,
    )


@router.get("/queue")
async def get_queue(_staff: CurrentStaff, db: DbDep, settings: SettingsDep) -> QueuePage:
    """Queued conversations with their handoff packets, highest priority first (priority:
    waiting minutes + 10 x negative sentiment + a bonus by reason; see docs/agents.md)."""
    queue = await db.read(queue_and_online, settings=settings.agents)
    items = [
        QueueItem(
            conversation_id=e.conversation_id,
            priority=e.priority,
            waiting_seconds=e.waiting_seconds,
            queued_at=e.queued_at,
            last_seq=e.last_seq,
            handoff=e.handoff,
            sentiment=e.sentiment,
            last_messages=[message_staff_read(m) for m in e.last_messages],
            follow_up=e.follow_up,
            contact_email=e.contact_email,
        )
        for e in queue.entries
    ]
    return QueuePage(items=items, total=queue.total, agents_online=queue.agents_online)


@router.get("/conversations")
async def my_conversations(
    staff: CurrentStaff,
    db: DbDep,
    status_filter: Annotated[
        str,
        Query(
            alias="status",
            pattern="^(assigned|resolved|queued|bot)$",
            description="Which conversations: assigned (default) or resolved are yours; "
            "queued or bot lists everyone's.",
        ),
    ] = "assigned",
    limit: Annotated[int, Query(ge=1, le=500), WHOLE] = 100,
) -> list[dict[str, Any]]:
    """Your open (or resolved) conversations, most recently active first."""
    return await db.read(list_conversations, staff_id=staff.id, status=status_filter, limit=limit)


@router.get("/conversations/{conversation_id}", responses=errors(404))
async def get_conversation(
    conversation_id: str, staff: CurrentStaff, db: DbDep
) -> StaffConversationView:
    """Everything about a conversation: packet, messages, notes, ratings and event history."""
    view = await db.read(staff_view, conversation_id=conversation_id)
    view["messages"] = [message_staff_read(m) for m in view["messages"]]
    return StaffConversationView.model_validate(view)


@router.get("/conversations/{conversation_id}/messages", responses=errors(404))
async def list_messages(
    conversation_id: str,
    staff: CurrentStaff,
    db: DbDep,
    after: Annotated[int, Query(ge=0, le=2**31 - 1), WHOLE] = 0,
    limit: Annotated[int, Query(ge=1, le=500), WHOLE] = 100,
) -> MessagePage:
    """Messages after `after`, with the bot's signals; page on with the last `seq`."""
    summary, messages = await db.read(
        conversation_service.summary_and_messages,
        conversation_id=conversation_id,
        after=after,
        limit=limit,
    )
    return MessagePage(
        messages=[message_staff_read(m) for m in messages],
        last_seq=summary.last_seq,
        has_more=bool(messages) and messages[-1].seq < summary.last_seq,
    )


@router.post("/conversations/{conversation_id}/claim", responses=ON_A_CONVERSATION)
async def claim(
    conversation_id: str, staff: CurrentStaff, actions: StaffActionsDep
) -> ActionResult:
    """Take a queued conversation. Exactly one of several agents racing wins; the others
    get 409 naming who did."""
    return _action_result(await actions.claim(conversation_id=conversation_id, agent=staff))


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=AgentMessageResult,
    responses={
        200: {"description": "A retry with the same client_id, answered from storage"},
        **ON_A_CONVERSATION,
    },
)
async def send_message(
    conversation_id: str,
    message_in: AgentMessageIn,
    staff: CurrentStaff,
    actions: StaffActionsDep,
    response: Response,
) -> AgentMessageResult:
    """Reply to the customer (only the agent the conversation is assigned to)."""
    message, replayed = await actions.send_message(
        conversation_id=conversation_id,
        agent=staff,
        text=message_in.text,
        client_id=message_in.client_id,
    )
    if replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return AgentMessageResult(conversation_id=conversation_id, message=message_staff_read(message))


@router.post(
    "/conversations/{conversation_id}/notes",
    status_code=status.HTTP_201_CREATED,
    responses=errors(404),
)
async def add_note(
    conversation_id: str, note_in: NoteIn, staff: CurrentStaff, db: DbDep, broker: BrokerDep
) -> NoteRead:
    """Add an internal note; the customer never sees it."""
    row = await db.run(
        agents_service.add_note, conversation_id=conversation_id, author=staff, text=note_in.text
    )
    note = NoteRead(
        id=row["id"],
        text=row["text"],
        author={"id": staff.id, "name": staff.name},
        created_at=row["created_at"],
    )
    await broker.publish(
        STAFF_CHANNEL,
        {"type": "note", "conversation_id": conversation_id, "note": note.model_dump(mode="json")},
    )
    return note


@router.post("/conversations/{conversation_id}/resolve", responses=ON_A_CONVERSATION)
async def resolve(
    conversation_id: str, staff: CurrentStaff, actions: StaffActionsDep
) -> ActionResult:
    """Resolve the conversation; the customer is asked for a rating."""
    change = await actions.resolve(conversation_id=conversation_id, staff=staff)
    return _action_result(change)


@router.post("/conversations/{conversation_id}/handback", responses=ON_A_CONVERSATION)
async def handback(
    conversation_id: str, staff: CurrentStaff, actions: StaffActionsDep
) -> ActionResult:
    """Give the conversation back to the bot; it answers the customer's next question."""
    change = await actions.handback(conversation_id=conversation_id, staff=staff)
    return _action_result(change)


@router.post("/conversations/{conversation_id}/transfer", responses=ON_A_CONVERSATION)
async def transfer(
    conversation_id: str,
    transfer_in: TransferIn,
    staff: CurrentStaff,
    actions: StaffActionsDep,
) -> ActionResult:
    """Hand the conversation to another agent."""
    change = await actions.transfer(
        conversation_id=conversation_id, staff=staff, to_agent_id=transfer_in.agent_id
    )
    return _action_result(change)


@router.get("/canned")
async def list_canned(staff: CurrentStaff, db: DbDep) -> list[CannedRead]:
    """Canned responses, by shortcut."""
    rows = await db.read(canned_service.list_canned)
    return [CannedRead.model_validate(r) for r in rows]


@router.get("/presence")
async def get_presence(
    staff: CurrentStaff, db: DbDep, settings: SettingsDep
) -> list[AgentPresence]:
    """Every active staff member: chosen presence, whether online now, open conversations."""
    rows = await db.read(list_presence, settings=settings.agents)
    return [AgentPresence.model_validate(r) for r in rows]


@router.put("/presence")
async def put_presence(
    presence_in: PresenceIn,
    staff: CurrentStaff,
    db: DbDep,
    settings: SettingsDep,
    broker: BrokerDep,
    actions: StaffActionsDep,
) -> list[AgentPresence]:
    """Choose online, away or offline. Going online may receive waiting conversations (with
    auto-assignment on); going offline puts your open conversations back in the queue (away
    keeps them)."""
    await db.run(set_presence, user_id=staff.id, status=presence_in.status)
    rows = await db.read(list_presence, settings=settings.agents)
    me = next((r for r in rows if r["id"] == staff.id), None)
    if me is not None:
        await broker.publish(
            STAFF_CHANNEL,
            presence_event(
                id=me["id"], name=me["name"], presence=me["presence"], online=me["online"]
            ),
        )
    if presence_in.status == "online":
        await actions.assign_waiting()
        rows = await db.read(list_presence, settings=settings.agents)
    elif presence_in.status == "offline" and await actions.release_agent(user_id=staff.id):
        # Signing off: nobody is left waiting on them.
        rows = await db.read(list_presence, settings=settings.agents)
    return [AgentPresence.model_validate(r) for r in rows]


@admin_router.get("/canned")
async def admin_list_canned(admin: CurrentAdmin, db: DbDep) -> list[CannedRead]:
    """Canned responses, by shortcut."""
    rows = await db.read(canned_service.list_canned)
    return [CannedRead.model_validate(r) for r in rows]


@admin_router.post("/canned", status_code=status.HTTP_201_CREATED, responses=errors(409))
async def create_canned(canned_in: CannedIn, admin: CurrentAdmin, db: DbDep) -> CannedRead:
    """Add a canned response (409 if the shortcut is taken)."""
    row = await db.run(canned_service.create_canned, **canned_in.model_dump())
    return CannedRead.model_validate(row)


@admin_router.put("/canned/{canned_id}", responses=errors(404, 409))
async def update_canned(
    canned_id: CannedId, canned_in: CannedIn, admin: CurrentAdmin, db: DbDep
) -> CannedRead:
    """Replace a canned response."""
    row = await db.run(canned_service.update_canned, canned_id=canned_id, **canned_in.model_dump())
    return CannedRead.model_validate(row)


@admin_router.delete(
    "/canned/{canned_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404)
)
async def delete_canned(canned_id: CannedId, admin: CurrentAdmin, db: DbDep) -> Response:
    """Delete a canned response."""
    await db.run(canned_service.delete_canned, canned_id=canned_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@conversation_router.get(
    "/{conversation_id}",
    response_model=CustomerConversationView | StaffConversationView,
    responses={
        200: {
            "description": "With the customer's token: status, the assigned agent's display "
            "name, whether a rating is due. With a staff token: everything, with the event "
            "history (StaffConversationView)."
        },
        **errors(401, 403, 404, 503),
    },
)
async def get_conversation_view(
    conversation_id: str,
    token: BearerToken,
    db: DbDep,
    access: CustomerAccessDep,
    request: Request,
) -> CustomerConversationView | StaffConversationView:
    """The conversation as its customer sees it, or whole for staff (this route lives with
    the staff routes because a staff token widens it; the staff view goes out without CORS
    headers, app/cors_policy.py)."""
    try:
        await access.check(conversation_id=conversation_id, token=token)
    except Forbidden:
        staff = await db.read(auth_service.user_for_token, token=token)
        if staff is None:
            raise
        mark_staff_only(request)
        view = await db.read(staff_view, conversation_id=conversation_id)
        view["messages"] = [message_staff_read(m) for m in view["messages"]]
        return StaffConversationView.model_validate(view)
    return CustomerConversationView.model_validate(
        await db.read(customer_view, conversation_id=conversation_id)
    )


@users_router.post("/{user_id}/deactivate", responses=errors(404, 409))
async def deactivate_user(
    user_id: UserId, admin: CurrentAdmin, db: DbDep, broker: BrokerDep, actions: StaffActionsDep
) -> UserRead:
    """Disable an account: its tokens stop working at once (its live streams close, in every
    process) and it can no longer sign in; its
    open conversations go back to the queue. An admin cannot deactivate themselves (409).
    (Filed with the staff routes: releasing conversations is staff work.)"""
    if user_id == admin.id:
        raise Conflict(
            "you cannot deactivate your own account; another admin must do it",
            field="user_id",
        )
    user = await db.run(auth_service.deactivate_user, user_id=user_id)
    await announce_user_revoked(broker, user_id=user.id, reason=DEACTIVATED)
    await actions.release_agent(user_id=user.id)
    return UserRead.of(user)
