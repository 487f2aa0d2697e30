"""What the bot reads in a customer message, all from ONE encoder call: the knowledge base's
best articles, the intent guess, the sentiment score, small talk, the request-for-a-person
model's score, and the pattern checks (a request for a person, yes / no).

`MessageReader.read_batch` reads a batch at once: the micro-batcher runs it on its worker
thread right after encoding (one index search and one matrix product per model for the whole
batch, off the event loop); a message whose vector came from the cache is read alone by its
turn. `MessageReader.understand` is what a turn, the admin's "try it" and agent assist call.
"""

from __future__ import annotations

import asyncio
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
from app.nlp.spelling import Speller
from app.policy.calibration import kb_confidence
from app.policy.decision import IntentSignal


@dataclass(frozen=True)
class Reading:
    """The models' reading of one message."""

    hits: list[KbHit]
    intent: IntentSignal | None
    sentiment: float
    smalltalk: str | None = None  # the small-talk act (app/intents/smalltalk.py)
    human_request: float = 0.0  # P(asks for a person) (app/nlp/human_request.py)


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
    smalltalk: str | None = None
    human_request: float = 0.0
    vector: np.ndarray | None = None  # the encoder's unit vector of `read_as`
    read_as: str = ""  # the text as the models read it (misspellings mended); "" = `text`


@dataclass(frozen=True)
class ContextReading:
    """The message read in the context of the conversation's topic: its vector mixed with the
    topic's, searched and classified like a message (no encoder call)."""

    vector: np.ndarray
    hits: list[KbHit]
    kb_confidence: float
    intent: IntentSignal | None
    relatedness: float = 0.0  # cosine between the message alone and the topic


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
        speller: Speller | None = None,
        reads_with_batch: bool = True,
    ) -> None:
        self._batcher = batcher
        self._speller = speller
        self._speller_revision: int | None = None
        # False for a reader whose index is not the batcher's reader's (a suite run against a
        # draft overlay): the batch's reading is of the live index, so the vector is read here.
        self._reads_with_batch = reads_with_batch
        self._knowledge = knowledge
        self._intents = intents
        self._sentiment = sentiment
        self._settings = settings
        self._calibrate = partial(kb_confidence, settings=settings.policy)

    def with_knowledge(self, knowledge: KnowledgeIndex) -> MessageReader:
        """This reader over another index (a suite run against a draft overlay): the same
        models and speller; a vector the batch read against the live index is read again."""
        if knowledge is self._knowledge:
            return self
        return MessageReader(
            batcher=self._batcher,
            knowledge=knowledge,
            intents=self._intents,
            sentiment=self._sentiment,
            settings=self._settings,
            speller=self._speller,
            reads_with_batch=False,
        )

    def _search_and_classify(
        self, texts: list[str], vectors: np.ndarray
    ) -> tuple[list[list[KbHit]], list[IntentSignal | None]]:
        limit = max(self._settings.retrieval.top_k, 10)
        hits = self._knowledge.search_many(vectors, limit=limit, texts=texts)
        return hits, self._intents.guess_many(vectors, texts, self._calibrate)

    def read_batch(self, texts: list[str], vectors: np.ndarray) -> list[Reading]:
        """The reading of each text (`vectors[i]` is the encoder's vector of `texts[i]`)."""
        hits, intents = self._search_and_classify(texts, vectors)
        sentiments = self._sentiment.score_many(texts, vectors)
        talk = self._intents.smalltalk.read_many(texts, vectors)
        requests = self._intents.human_request.score_many(texts, vectors)
        return [
            Reading(found, intent, float(score), act, float(request))
            for found, intent, score, act, request in zip(
                hits, intents, sentiments, talk, requests, strict=True
            )
        ]

    async def understand(self, text: str) -> Understanding:
        """Encode `text` once (micro-batched) and read everything from that vector (with the
        rest of its batch on the encoder's thread, or here for a vector from the cache); plus
        the pattern checks. 503 when the model fails."""
        read_as = await self._mended(text)
        try:
            vector, reading = await self._batcher.encode_and_read(read_as)
        except EmbedderError as exc:
            raise ServiceUnavailable("the language model failed on this message; retry") from exc
        if reading is None or not self._reads_with_batch:
            reading = self.read_batch([read_as], vector.reshape(1, -1))[0]
        hits = reading.hits
        policy = self._settings.policy
        return Understanding(
            text=text,
            hits=hits,
            kb_confidence=kb_confidence(hits[0].score, policy) if hits else 0.0,
            intent=reading.intent,
            sentiment=reading.sentiment,
            explicit_human=policy.human_request_patterns and asks_for_human(read_as),
            affirm=is_affirmation(read_as),
            deny=is_denial(read_as),
            smalltalk=reading.smalltalk,
            human_request=reading.human_request,
            vector=np.asarray(vector, np.float32).reshape(-1),
            read_as=read_as if read_as != text else "",
        )

    async def _mended(self, text: str) -> str:
        """`text` with misspellings mended (app/nlp/spelling.py), the speller knowing the
        words of the live knowledge base and the intents' examples."""
        speller = self._speller
        if speller is None:
            return text
        if self._speller_revision != self._knowledge.revision:
            self._speller_revision = self._knowledge.revision
            passages, _ = self._knowledge.snapshot_vectors()
            examples = [e for i in self._intents.catalog.intents.values() for e in i.examples]
            await asyncio.to_thread(speller.learn, [*passages.texts, *examples])
        return speller.correct(text)

    def in_context(self, understanding: Understanding, topic: np.ndarray) -> ContextReading | None:
        """`understanding`'s message read with the conversation's `topic` vector mixed in
        (`followup_weight`), from the vector already computed: one index search and one
        classifier product, no encoder call. None without a vector or with the weight at 0."""
        weight = self._settings.policy.followup_weight
        if understanding.vector is None or weight <= 0 or topic.shape != understanding.vector.shape:
            return None
        mixed = understanding.vector + weight * topic
        norm = float(np.linalg.norm(mixed))
        if norm == 0.0:
            return None
        mixed = (mixed / norm).astype(np.float32)
        text = understanding.read_as or understanding.text
        found, intents = self._search_and_classify([text], mixed.reshape(1, -1))
        hits = found[0]
        return ContextReading(
            vector=mixed,
            hits=hits,
            kb_confidence=kb_confidence(hits[0].score, self._settings.policy) if hits else 0.0,
            intent=intents[0],
            relatedness=float(np.dot(understanding.vector, topic)),
        )
