"""Dependencies of the bot's routes: the bot itself, the intent catalog and the per-client text
budget."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.bot.budget import TextBudget
from app.bot.pipeline import Bot
from app.deps import provide
from app.intents.engine import IntentEngine

BotDep = Annotated[Bot, Depends(provide("bot"))]
IntentsDep = Annotated[IntentEngine, Depends(provide("intents"))]
BudgetDep = Annotated[TextBudget, Depends(provide("budget"))]
