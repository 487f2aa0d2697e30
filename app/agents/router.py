"""Staff HTTP routes: the queue, claiming and working a conversation, agent assist, canned
responses, presence (`/api/v1/agent/...`) and the admins' canned-response management."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.agents import canned as canned_service
from app.agents import flows
from app.agents import service as agents_service
from app.agents.availability import online_agent_ids
from app.agents.presence import list_presence, set_presence
from app.agents.queue import list_queue
from app.agents.schemas import (
    ActionResult,
    AgentMessageIn,
    AgentMessageResult,
    AgentPresence,
    AssistArticle,
    AssistIntent,
    AssistResult,
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
from app.agents.views import staff_view
from app.auth.deps import CurrentAdmin, CurrentStaff
from app.conversations import service as conversation_service
from app.conversations.models import Author, Conversation, Message
from app.conversations.schemas import MessagePage
from app.conversations.service import StoredMessage
from app.conversations.turn import understand
from app.conversations.views import message_staff_read
from app.db import utcnow
from app.deps import RuntimeDep
from app.errors import NotFound
from app.realtime.broker import STAFF_CHANNEL
from app.realtime.events import presence_event

CannedId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A canned response's id.")]

router = APIRouter(prefix="/api/v1/agent", tags=["agents"])
admin_router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


def _action_result(change: Change) -> ActionResult:
    return ActionResult(
        conversation_id=change.conversation_id,
        status=change.status,
        agent={"id": change.agent.id, "name": change.agent.name} if change.agent else None,
        seq=change.last_seq,
    )


@router.get("/queue")
async def get_queue(staff: CurrentStaff, runtime: RuntimeDep) -> QueuePage:
    """Queued conversations with their handoff packets, highest priority first (priority:
    waiting minutes + 10 x negative sentiment + a bonus by reason; see docs/agents.md)."""

    def read(conn: Connection) -> tuple[list[Any], int]:
        now = utcnow()
        entries = list_queue(conn, now=now)
        online = online_agent_ids(conn, now=now, settings=runtime.settings.agents)
        return entries, len(online)

    entries, online = await runtime.db.read(read)
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
        for e in entries
    ]
    return QueuePage(items=items, total=len(items), agents_online=online)


@router.get("/conversations")
async def my_conversations(
    staff: CurrentStaff,
    runtime: RuntimeDep,
    status_filter: Annotated[
        str,
        Query(
            alias="status",
            pattern="^(assigned|resolved|queued|bot)$",
            description="Which conversations: assigned (default) or resolved are yours; "
            "queued or bot lists everyone's.",
        ),
    ] = "assigned",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Your open (or resolved) conversations, most recently active first."""
    table = Conversation.__table__

    def read(conn: Connection) -> list[dict[str, Any]]:
        query = select(
            table.c.id,
            table.c.status,
            table.c.last_seq,
            table.c.handoff_reason,
            table.c.assigned_at,
            table.c.updated_at,
        ).where(table.c.status == status_filter)
        if status_filter in ("assigned", "resolved"):
            query = query.where(table.c.assigned_agent_id == staff.id)
        rows = conn.execute(query.order_by(table.c.updated_at.desc()).limit(limit)).mappings()
        return [dict(r) for r in rows]

    return await runtime.db.read(read)


@router.get("/conversations/{conversation_id}")
async def get_conversation(
    conversation_id: str, staff: CurrentStaff, runtime: RuntimeDep
) -> StaffConversationView:
    """Everything about a conversation: packet, messages, notes, ratings and event history."""
    view = await runtime.db.read(staff_view, conversation_id=conversation_id)
    view["messages"] = [message_staff_read(m) for m in view["messages"]]
    return StaffConversationView.model_validate(view)


@router.get("/conversations/{conversation_id}/messages")
async def list_messages(
    conversation_id: str,
    staff: CurrentStaff,
    runtime: RuntimeDep,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MessagePage:
    """Messages after `after`, with the bot's signals; page on with the last `seq`."""

    def read(conn: Connection) -> tuple[Any, list[StoredMessage]]:
        summary = conversation_service.get_summary(conn, conversation_id=conversation_id)
        if summary is None:
            raise NotFound(f"conversation {conversation_id} does not exist")
        messages = conversation_service.list_after(
            conn, conversation_id=conversation_id, after=after, limit=limit
        )
        return summary, messages

    summary, messages = await runtime.db.read(read)
    return MessagePage(
        messages=[message_staff_read(m) for m in messages],
        last_seq=summary.last_seq,
        has_more=bool(messages) and messages[-1].seq < summary.last_seq,
    )


@router.post("/conversations/{conversation_id}/claim")
async def claim(conversation_id: str, staff: CurrentStaff, runtime: RuntimeDep) -> ActionResult:
    """Take a queued conversation. Exactly one of several agents racing wins; the others
    get 409 naming who did."""
    return _action_result(await flows.claim(runtime, conversation_id=conversation_id, agent=staff))


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=AgentMessageResult,
    responses={200: {"description": "A retry with the same client_id, answered from storage"}},
)
async def send_message(
    conversation_id: str,
    message_in: AgentMessageIn,
    staff: CurrentStaff,
    runtime: RuntimeDep,
    response: Response,
) -> AgentMessageResult:
    """Reply to the customer (only the agent the conversation is assigned to)."""
    message, replayed = await flows.send_message(
        runtime,
        conversation_id=conversation_id,
        agent=staff,
        text=message_in.text,
        client_id=message_in.client_id,
    )
    if replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return AgentMessageResult(conversation_id=conversation_id, message=message_staff_read(message))


@router.post("/conversations/{conversation_id}/notes", status_code=status.HTTP_201_CREATED)
async def add_note(
    conversation_id: str, note_in: NoteIn, staff: CurrentStaff, runtime: RuntimeDep
) -> NoteRead:
    """Add an internal note; the customer never sees it."""
    row = await runtime.db.run(
        agents_service.add_note, conversation_id=conversation_id, author=staff, text=note_in.text
    )
    note = NoteRead(
        id=row["id"],
        text=row["text"],
        author={"id": staff.id, "name": staff.name},
        created_at=row["created_at"],
    )
    await runtime.broker.publish(
        STAFF_CHANNEL,
        {"type": "note", "conversation_id": conversation_id, "note": note.model_dump(mode="json")},
    )
    return note


@router.post("/conversations/{conversation_id}/resolve")
async def resolve(conversation_id: str, staff: CurrentStaff, runtime: RuntimeDep) -> ActionResult:
    """Resolve the conversation; the customer is asked for a rating."""
    change = await flows.resolve(runtime, conversation_id=conversation_id, staff=staff)
    return _action_result(change)


@router.post("/conversations/{conversation_id}/handback")
async def handback(conversation_id: str, staff: CurrentStaff, runtime: RuntimeDep) -> ActionResult:
    """Give the conversation back to the bot; it answers the customer's next question."""
    change = await flows.handback(runtime, conversation_id=conversation_id, staff=staff)
    return _action_result(change)


@router.post("/conversations/{conversation_id}/transfer")
async def transfer(
    conversation_id: str,
    transfer_in: TransferIn,
    staff: CurrentStaff,
    runtime: RuntimeDep,
) -> ActionResult:
    """Hand the conversation to another agent."""
    change = await flows.transfer(
        runtime, conversation_id=conversation_id, staff=staff, to_agent_id=transfer_in.agent_id
    )
    return _action_result(change)


def _latest_customer_message(conn: Connection, *, conversation_id: str) -> StoredMessage | None:
    if conversation_service.get_summary(conn, conversation_id=conversation_id) is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    messages = Message.__table__
    row = (
        conn.execute(
            select(messages)
            .where(
                messages.c.conversation_id == conversation_id,
                messages.c.author == Author.CUSTOMER.value,
            )
            .order_by(messages.c.seq.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return StoredMessage.from_row(row) if row is not None else None


@router.get("/conversations/{conversation_id}/assist")
async def assist(conversation_id: str, staff: CurrentStaff, runtime: RuntimeDep) -> AssistResult:
    """For the customer's latest message: the closest articles (text ready to insert) and the
    intent the classifier sees."""
    latest = await runtime.db.read(_latest_customer_message, conversation_id=conversation_id)
    if latest is None:
        return AssistResult(
            conversation_id=conversation_id, message=None, articles=[], intent=None, sentiment=None
        )
    understanding = await understand(runtime, latest.text)
    guess = understanding.intent
    intent = None
    if guess is not None:
        definition = runtime.intents.catalog.get(guess.name)
        intent = AssistIntent(
            name=guess.name,
            confidence=round(guess.confidence, 4),
            description=definition.description if definition else None,
        )
    return AssistResult(
        conversation_id=conversation_id,
        message=message_staff_read(latest),
        articles=[
            AssistArticle(
                article_id=h.article.id,
                title=h.article.title,
                score=round(h.score, 4),
                body=h.article.body,
            )
            for h in understanding.hits[: runtime.settings.retrieval.top_k]
        ],
        intent=intent,
        sentiment=round(understanding.sentiment, 4),
    )


@router.get("/canned")
async def list_canned(staff: CurrentStaff, runtime: RuntimeDep) -> list[CannedRead]:
    """Canned responses, by shortcut."""
    rows = await runtime.db.read(canned_service.list_canned)
    return [CannedRead.model_validate(r) for r in rows]


@router.get("/presence")
async def get_presence(staff: CurrentStaff, runtime: RuntimeDep) -> list[AgentPresence]:
    """Every active staff member: chosen presence, whether online now, open conversations."""
    rows = await runtime.db.read(list_presence, settings=runtime.settings.agents)
    return [AgentPresence.model_validate(r) for r in rows]


@router.put("/presence")
async def put_presence(
    presence_in: PresenceIn, staff: CurrentStaff, runtime: RuntimeDep
) -> list[AgentPresence]:
    """Choose online, away or offline. Going online may receive waiting conversations (with
    auto-assignment on); going offline puts your open conversations back in the queue (away
    keeps them)."""
    await runtime.db.run(set_presence, user_id=staff.id, status=presence_in.status)
    rows = await runtime.db.read(list_presence, settings=runtime.settings.agents)
    me = next((r for r in rows if r["id"] == staff.id), None)
    if me is not None:
        await runtime.broker.publish(
            STAFF_CHANNEL,
            presence_event(
                id=me["id"], name=me["name"], presence=me["presence"], online=me["online"]
            ),
        )
    if presence_in.status == "online":
        await flows.assign_waiting(runtime)
        rows = await runtime.db.read(list_presence, settings=runtime.settings.agents)
    elif presence_in.status == "offline" and await flows.release_agent(runtime, user_id=staff.id):
        # Signing off: nobody is left waiting on them.
        rows = await runtime.db.read(list_presence, settings=runtime.settings.agents)
    return [AgentPresence.model_validate(r) for r in rows]


@admin_router.get("/canned")
async def admin_list_canned(admin: CurrentAdmin, runtime: RuntimeDep) -> list[CannedRead]:
    """Canned responses, by shortcut."""
    rows = await runtime.db.read(canned_service.list_canned)
    return [CannedRead.model_validate(r) for r in rows]


@admin_router.post("/canned", status_code=status.HTTP_201_CREATED)
async def create_canned(
    canned_in: CannedIn, admin: CurrentAdmin, runtime: RuntimeDep
) -> CannedRead:
    """Add a canned response (409 if the shortcut is taken)."""
    row = await runtime.db.run(canned_service.create_canned, **canned_in.model_dump())
    return CannedRead.model_validate(row)


@admin_router.put("/canned/{canned_id}")
async def update_canned(
    canned_id: CannedId, canned_in: CannedIn, admin: CurrentAdmin, runtime: RuntimeDep
) -> CannedRead:
    """Replace a canned response."""
    row = await runtime.db.run(
        canned_service.update_canned, canned_id=canned_id, **canned_in.model_dump()
    )
    return CannedRead.model_validate(row)


@admin_router.delete("/canned/{canned_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_canned(canned_id: CannedId, admin: CurrentAdmin, runtime: RuntimeDep) -> Response:
    """Delete a canned response."""
    await runtime.db.run(canned_service.delete_canned, canned_id=canned_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
