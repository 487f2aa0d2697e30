"""The intents in service: the folder's definitions (plus built-ins), the classifier fitted on
their examples at start, the built-in small talk and request-for-a-person models, and the HTTP
client their actions use.

The classifier reads the same vector the knowledge search uses (and the message text):
recognising an intent costs no second encoder call. A classifier fitted in this process is reused
by a later start with the same encoder and examples (a process that starts several services, as
the test suite and the evaluation commands do, encodes and fits them once).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial

import httpx
import numpy as np
from cachetools import LRUCache

from app.config import Settings
from app.identity import VerifiedCustomer, template_customer
from app.intents import slots as slot_reading
from app.intents.actions import (
    ActionOutcome,
    IntegrationTarget,
    limited_reply,
    render_reply,
    run_http,
)
from app.intents.builtin import with_builtins
from app.intents.definitions import (
    HandoffAction,
    HttpAction,
    IntentCatalog,
    IntentDef,
    IntentFormatError,
    SlotType,
    load_intents,
)
from app.intents.smalltalk import SmallTalk
from app.nlp.human_request import HumanRequestModel
from app.nlp.intent_classifier import IntentClassifier
from app.policy.decision import IntentSignal
from app.ratelimit.limiter import RateLimits

log = logging.getLogger(__name__)

Encode = Callable[[list[str]], Awaitable[np.ndarray]]

# Classifiers fitted in this process, by encoder and examples (immutable, so safe to share).
_fitted: LRUCache[str, IntentClassifier] = LRUCache(maxsize=8)


def _examples_key(model_key: str, texts: list[str], labels: list[str]) -> str:
    digest = hashlib.sha256(model_key.encode())
    for label, text in zip(labels, texts, strict=True):
        digest.update(b"\0" + label.encode() + b"\t" + text.encode())
    return digest.hexdigest()


async def _fit(
    encode: Encode, texts: list[str], labels: list[str], model_key: str | None
) -> IntentClassifier:
    key = _examples_key(model_key, texts, labels) if model_key is not None else None
    if key is not None and (known := _fitted.get(key)) is not None:
        return known
    vectors = await encode(texts)
    classifier = await asyncio.to_thread(
        partial(IntentClassifier.fit, vectors, labels, texts=texts)
    )
    if key is not None:
        _fitted[key] = classifier
    return classifier


class IntentEngine:
    """Recognises intents and runs their actions."""

    def __init__(
        self,
        catalog: IntentCatalog,
        classifier: IntentClassifier | None,
        client: httpx.AsyncClient,
        targets: dict[str, IntegrationTarget],
        limits: RateLimits | None = None,
        *,
        smalltalk: SmallTalk,
        human_request: HumanRequestModel,
    ) -> None:
        self.catalog = catalog
        self.smalltalk = smalltalk
        self.human_request = human_request
        self.classifier = classifier
        self.client = client
        self.targets = targets
        self.limits = limits

    @classmethod
    async def start(
        cls,
        settings: Settings,
        encode: Encode,
        *,
        model_key: str | None = None,
        limits: RateLimits | None = None,
    ) -> IntentEngine:
        """Load and validate the intents folder, fit the classifier on the examples (or reuse
        the one fitted in this process for the same examples and encoder `model_key`)."""
        catalog = with_builtins(await asyncio.to_thread(load_intents, settings.intents_dir))
        missing = sorted(catalog.integrations - set(settings.integrations))
        if missing:
            users = [
                f"{i.name} ({i.action.integration})"
                for i in catalog.intents.values()
                if isinstance(i.action, HttpAction) and i.action.integration in missing
            ]
            raise IntentFormatError(
                [
                    f"intents {', '.join(users)} call integration(s) {', '.join(missing)} that "
                    "SWITCHBOARD_INTEGRATIONS does not define"
                ]
            )
        texts = [example for i in catalog.intents.values() for example in i.examples]
        labels = [i.name for i in catalog.intents.values() for _ in i.examples]
        classifier = None
        if len(catalog.intents) >= 2:
            classifier = await _fit(encode, texts, labels, model_key)
        if any(s.type is SlotType.DATE for i in catalog.intents.values() for s in i.slots.values()):
            await asyncio.to_thread(slot_reading.warm_up)
        targets = {
            name: IntegrationTarget(
                base_url=integration.base_url,
                headers={k: v.get_secret_value() for k, v in integration.headers.items()},
            )
            for name, integration in settings.integrations.items()
        }
        smalltalk = await SmallTalk.start(catalog, encode, model_key=model_key)
        human_request = await HumanRequestModel.start(encode, model_key=model_key)
        log.info("intents: %d loaded from %s", len(catalog), settings.intents_dir)
        return cls(
            catalog,
            classifier,
            httpx.AsyncClient(),
            targets,
            limits,
            smalltalk=smalltalk,
            human_request=human_request,
        )

    def guess_many(
        self, vectors: np.ndarray, texts: list[str], calibrate: Callable[[float], float]
    ) -> list[IntentSignal | None]:
        """The likeliest intent for each message (their vectors as rows, and texts), with its
        confidence and match (see `IntentClassifier.predict`)."""
        if self.classifier is None:
            return [None] * len(texts)
        guesses = self.classifier.predict(vectors, threshold=0.0, calibrate=calibrate, texts=texts)
        return [
            IntentSignal(
                name=g.ranked[0][0],
                confidence=g.confidence,
                match=g.match,
                probability=g.ranked[0][1],
                in_scope=g.in_scope,
            )
            if g.ranked
            else None
            for g in guesses
        ]

    async def run(
        self,
        intent: IntentDef,
        slots: dict[str, str],
        *,
        idempotency_key: str,
        customer: VerifiedCustomer | None = None,
    ) -> ActionOutcome:
        """Run the intent's action with its slot values, for the verified `customer` (None:
        an anonymous visitor). An intent that requires a verified customer never runs for an
        anonymous one: the refusal is the outcome, and no call is made. An HTTP action over its
        `limit` answers the limit's reply and calls nothing."""
        if intent.requires_verified_customer and customer is None:
            return ActionOutcome(ok=True, text=intent.refusal_text)
        action = intent.effective_action
        seen = template_customer(customer)
        if isinstance(action, HttpAction):
            if action.limit is not None and self.limits is not None:
                limited = await limited_reply(self.limits, intent, action.limit, slots, seen)
                if limited is not None:
                    return limited
            return await run_http(
                self.client,
                intent,
                action,
                slots=slots,
                target=self.targets.get(action.integration),
                idempotency_key=idempotency_key,
                customer=seen,
            )
        if isinstance(action, HandoffAction):
            return ActionOutcome(ok=True)
        return render_reply(action, slots, seen)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()
