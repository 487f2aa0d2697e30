"""Dependencies of the bot's routes: the bot itself and the intent catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.bot.pipeline import Bot
from app.deps import provide
from app.intents.engine import IntentEngine

BotDep = Annotated[Bot, Depends(provide("bot"))]
IntentsDep = Annotated[IntentEngine, Depends(provide("intents"))]
