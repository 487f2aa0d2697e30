"""What the bot reads in a customer message, all from ONE encoder call: the knowledge base's
best articles, the intent guess, the sentiment score, and the pattern checks (a request for a
person, yes / no).

`MessageReader.read_batch` reads a batch at once: the micro-batcher runs it on its worker
thread right after encoding (one index search and one matrix product per model for the whole
batch, off the event loop); a message whose vector came from the cache is read alone by its
turn. `MessageReader.understand` is what a turn, the admin's "try it" and agent assist call.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from app.config import Settings
from app.errors import ServiceUnavailable
from app.intents.builtin import asks_for_human, is_affirmation, is_denial
from app.intents.engine import IntentEngine
from app.kb.knowledge import KbHit, KnowledgeIndex
from app.nlp.batcher import MicroBatcher
from app.nlp.embedder import EmbedderError
from app.nlp.sentiment import SentimentModel
from app.policy.calibration import kb_confidence
from app.policy.decision import IntentSignal


@dataclass(frozen=True)
class Reading:
    """The models' reading of one message."""

    hits: list[KbHit]
    intent: IntentSignal | None
    sentiment: float


@dataclass(frozen=True)
class Understanding:
    """What the models and patterns found in a message, before the conversation's state is
    known."""

    text: str
    hits: list[KbHit]
    kb_confidence: float
    intent: IntentSignal | None
    sentiment: float
    explicit_human: bool
    affirm: bool
    deny: bool


class MessageReader:
    """Reads customer messages with the models that share the encoder's vector."""

    def __init__(
        self,
        *,
        batcher: MicroBatcher,
        knowledge: KnowledgeIndex,
        intents: IntentEngine,
        sentiment: SentimentModel,
        settings: Settings,
    ) -> None:
        self._batcher = batcher
        self._knowledge = knowledge
        self._intents = intents
        self._sentiment = sentiment
        self._settings = settings
        self._calibrate = partial(kb_confidence, settings=settings.policy)

    def read_batch(self, texts: list[str], vectors: np.ndarray) -> list[Reading]:
        """The reading of each text (`vectors[i]` is the encoder's vector of `texts[i]`)."""
        limit = max(self._settings.retrieval.top_k, 10)
        hits = self._knowledge.search_many(vectors, limit=limit)
        intents = self._intents.guess_many(vectors, texts, self._calibrate)
        sentiments = self._sentiment.score_many(texts, vectors)
        return [
            Reading(found, intent, float(score))
            for found, intent, score in zip(hits, intents, sentiments, strict=True)
        ]

    async def understand(self, text: str) -> Understanding:
        """Encode `text` once (micro-batched) and read everything from that vector (with the
        rest of its batch on the encoder's thread, or here for a vector from the cache); plus
        the pattern checks. 503 when the model fails."""
        try:
            vector, reading = await self._batcher.encode_and_read(text)
        except EmbedderError as exc:
            raise ServiceUnavailable("the language model failed on this message; retry") from exc
        if reading is None:
            reading = self.read_batch([text], vector.reshape(1, -1))[0]
        hits = reading.hits
        policy = self._settings.policy
        return Understanding(
            text=text,
            hits=hits,
            kb_confidence=kb_confidence(hits[0].score, policy) if hits else 0.0,
            intent=reading.intent,
            sentiment=reading.sentiment,
            explicit_human=policy.human_request_patterns and asks_for_human(text),
            affirm=is_affirmation(text),
            deny=is_denial(text),
        )
