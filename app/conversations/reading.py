"""What the models read in customer messages from their vectors: the knowledge base's best
articles, the intent guess and the sentiment score.

`read_messages` reads a batch at once: the micro-batcher runs it on its worker thread right
after encoding (one index search and one matrix product per model for the whole batch, off the
event loop); a message whose vector came from the cache is read alone by its turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from app.conversations.planning import kb_confidence
from app.kb.knowledge import KbHit
from app.policy.decision import IntentSignal

if TYPE_CHECKING:
    from app.runtime import Runtime


@dataclass(frozen=True)
class Reading:
    """The models' reading of one message."""

    hits: list[KbHit]
    intent: IntentSignal | None
    sentiment: float


def read_messages(runtime: Runtime, texts: list[str], vectors: np.ndarray) -> list[Reading]:
    """The reading of each text (`vectors[i]` is the encoder's vector of `texts[i]`)."""
    policy = runtime.settings.policy
    limit = max(runtime.settings.retrieval.top_k, 10)
    hits = runtime.knowledge.search_many(vectors, limit=limit)
    intents = runtime.intents.guess_many(vectors, texts, lambda score: kb_confidence(score, policy))
    sentiments = runtime.sentiment.score_many(texts, vectors)
    return [
        Reading(found, intent, float(score))
        for found, intent, score in zip(hits, intents, sentiments, strict=True)
    ]
