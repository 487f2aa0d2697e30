"""The bot's routes: a customer's message and the bot's reply (`POST
/api/v1/conversations/{id}/messages`), what the bot would do with a message and why (the
admin's "try it"), and what it reads in a customer's latest message (agent assist)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from app.agents.schemas import AssistArticle, AssistIntent, AssistResult
from app.auth.deps import CurrentAdmin, CurrentStaff
from app.bot.deps import BotDep, BudgetDep, IntentsDep
from app.conversations import service as conversation_service
from app.conversations.deps import CustomerAccessDep
from app.conversations.dialog import Dialog
from app.conversations.schemas import MessageIn, TurnResult
from app.conversations.views import message_staff_read
from app.deps import BearerToken, ClientAddress, DbDep, RateLimitsDep, SettingsDep
from app.error_responses import ADMIN, CUSTOMER, STAFF, errors
from app.errors import PayloadTooLarge
from app.kb.deps import KnowledgeDep
from app.kb.schemas import TryIn

conversations = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])
admin = APIRouter(prefix="/api/v1/admin", tags=["knowledge base"], responses=ADMIN)
agent = APIRouter(prefix="/api/v1/agent", tags=["agents"], responses=STAFF)


@conversations.post(
    "/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=TurnResult,
    responses={
        200: {"model": TurnResult, "description": "A retry, answered from storage"},
        **CUSTOMER,
        **errors(
            409,
            described={
                429: "Too many messages from this address or in this conversation, or too "
                "many handoffs or too much text from this address; see Retry-After"
            },
        ),
    },
)
async def post_message(
    conversation_id: str,
    message_in: MessageIn,
    token: BearerToken,
    bot: BotDep,
    settings: SettingsDep,
    limits: RateLimitsDep,
    access: CustomerAccessDep,
    address: ClientAddress,
    budget: BudgetDep,
) -> Response:
    """Post a customer message and get the bot's reply. A repeated `client_id` is stored once.
    Each address may send `budgets.client_chars` characters of messages (429 beyond)."""
    await limits.hit(limits.message_per_address, address)
    # Counted per conversation only for its own customer: nobody can spend another's allowance.
    await access.check(conversation_id=conversation_id, token=token)
    await limits.hit(limits.message_per_conversation, conversation_id)
    handoffs = await limits.check(limits.handoff_per_address, address)
    limit = settings.max_message_chars
    if len(message_in.text) > limit:
        raise PayloadTooLarge(
            f"text is {len(message_in.text)} characters; the limit is {limit}. "
            "Shorten the message or split it.",
            limit=limit,
        )
    await budget.spend(address, len(message_in.text))
    outcome = await bot.handle_customer_message(
        conversation_id=conversation_id,
        token=token,
        message_in=message_in,
        handoff_refused=handoffs.error() if handoffs else None,
    )
    reply = outcome.result.reply
    if not outcome.replayed and reply is not None and reply.handoff_reason is not None:
        await limits.count(limits.handoff_per_address, address)
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


@admin.post("/try")
async def try_message(
    try_in: TryIn, _admin: CurrentAdmin, bot: BotDep, knowledge: KnowledgeDep
) -> dict[str, Any]:
    """What the bot would answer to `text` as the first message of a conversation, and why:
    the articles and scores it found, the intent guess, sentiment, and the policy's decision
    with its reason. Nothing is stored and no integration is called."""
    understanding = await bot.understand(try_in.text)
    reply = bot.plan_reply(understanding, Dialog())
    meta = reply.meta
    return {
        "text": try_in.text,
        "reply": {
            "kind": meta["kind"],
            "text": reply.text,
            "reason": meta["reason"],
            "intent": meta["intent"],
            "handoff_reason": meta["handoff_reason"],
            "confidence": meta["confidence"],
            "sources": meta["sources"],
            "suggestions": meta["suggestions"],
        },
        "decision": meta["decision"],
        "signals": meta["signals"],
        "articles": [
            {
                "article_id": h.article.id,
                "title": h.article.title,
                "score": round(h.score, 4),
                "matched": h.matched,
            }
            for h in understanding.hits
        ],
        "kb_confidence": round(understanding.kb_confidence, 4),
        "knowledge_revision": knowledge.revision,
    }


@agent.get("/conversations/{conversation_id}/assist", responses=errors(404))
async def assist(
    conversation_id: str,
    _staff: CurrentStaff,
    db: DbDep,
    bot: BotDep,
    intents: IntentsDep,
    settings: SettingsDep,
) -> AssistResult:
    """For the customer's latest message: the closest articles (text ready to insert) and the
    intent the classifier sees."""
    latest = await db.read(
        conversation_service.latest_customer_message, conversation_id=conversation_id
    )
    if latest is None:
        return AssistResult(
            conversation_id=conversation_id, message=None, articles=[], intent=None, sentiment=None
        )
    understanding = await bot.understand(latest.text)
    guess = understanding.intent
    intent = None
    if guess is not None:
        definition = intents.catalog.get(guess.name)
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
            for h in understanding.hits[: settings.retrieval.top_k]
        ],
        intent=intent,
        sentiment=round(understanding.sentiment, 4),
    )
