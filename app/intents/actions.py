"""Running an intent's action: a reply template, or an HTTP call to one of the business's systems.

HTTP calls go to a named integration from settings (base URL and secret headers never appear
in intent files), with a timeout and a bounded retry (connection errors, timeouts, 429 and
5xx, backing off exponentially). Every call carries an `Idempotency-Key` made from the
conversation and message, so a retried refund is not paid twice by an API that honours it.

A call that changes something (any method but GET) and timed out or lost its connection after
the request went out may have been carried out: its outcome is *unknown*, not failed. The
retries re-send it with the same key, which is how its outcome is checked (an API that
honours the key answers with the first result); when every attempt leaves it unknown, the
outcome says so (`unknown`) and the policy hands off with `action_outcome_unknown` so that
nobody tells the customer it failed or does it again by hand. A call that never left (the
connection was refused) failed.

Values put into the request are made safe first: each rendered value in the path is
percent-encoded as one path segment (the template's own slashes stay), query values are
encoded by httpx, and a header value with CR, LF or NUL is refused; a request that cannot be
formed fails cleanly, never a 500. Nothing secret is logged: errors name the integration,
method, path template and status only.

An action may declare a `limit` (how often per key, e.g. per email address): over it the bot
answers the limit's reply and the integration is not called.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from app.identity import template_customer
from app.intents.definitions import ActionLimit, HttpAction, IntentDef, ReplyAction
from app.intents.templates import TemplateProblem, render, render_path, render_value
from app.ratelimit.limiter import Limit, RateLimits

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_SECONDS = 0.2
# Errors after which the request certainly did not reach the integration.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
UNSAFE_HEADER_CHARS = frozenset("\r\n\x00")


@dataclass(frozen=True)
class IntegrationTarget:
    """Where an integration lives and the headers (secrets included) every call carries."""

    base_url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class ActionOutcome:
    """What running an action produced: the text to say, or why it failed (no secrets)."""

    ok: bool
    text: str = ""
    status_code: int | None = None
    error: str | None = None
    attempts: int = 0
    elapsed_ms: float = 0.0
    unknown: bool = False  # not ok, but it may have been carried out: check before retrying

    @property
    def state(self) -> str:
        """`ok`, `failed`, or `unknown` (a change that may have gone through)."""
        return "ok" if self.ok else "unknown" if self.unknown else "failed"

    def summary(self) -> dict[str, Any]:
        """The outcome as stored with the turn (for staff and the event log)."""
        return {
            "ok": self.ok,
            "outcome": self.state,
            "status_code": self.status_code,
            "error": self.error,
            "attempts": self.attempts,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def render_reply(
    action: ReplyAction, slots: dict[str, str], customer: dict[str, Any] | None = None
) -> ActionOutcome:
    """Render a reply action (a template error is a failure, not a blank reply); `customer`
    is what templates see as `customer` (app/identity.py: template_customer)."""
    customer = customer if customer is not None else template_customer(None)
    try:
        return ActionOutcome(ok=True, text=render(action.reply, slots=slots, customer=customer))
    except TemplateProblem as exc:
        return ActionOutcome(ok=False, error=str(exc))


async def limited_reply(
    limits: RateLimits,
    intent: IntentDef,
    limit: ActionLimit,
    slots: dict[str, str],
    customer: dict[str, Any],
) -> ActionOutcome | None:
    """Count one run of the action against its `limit` for the key its template gives; over
    the limit, the limit's reply (nothing is called). None: go ahead."""
    try:
        key = render(limit.key, slots=slots, customer=customer).strip().lower()
    except TemplateProblem as exc:
        return ActionOutcome(ok=False, error=f"limit key: {exc}")
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]  # no slot values in the store
    counted = Limit.of(f"intent-{intent.name}", limit.rate, f"runs of {intent.name}")
    refusal = await limits.take(counted, digest)
    if refusal is None:
        return None
    log.info("intent %s: over its limit (%s); not called", intent.name, limit.rate)
    try:
        text = render(limit.reply, slots=slots, customer=customer)
    except TemplateProblem as exc:
        return ActionOutcome(ok=False, error=str(exc))
    return ActionOutcome(ok=True, text=text, error="rate_limited")


@dataclass
class _Sent:
    """What sending (and re-sending) one request came to."""

    response: httpx.Response | None = None
    error: str | None = None
    attempts: int = 0
    maybe_applied: bool = False  # the last attempt may have been carried out, unanswered


async def _send(client: httpx.AsyncClient, request: httpx.Request, action: HttpAction) -> _Sent:
    """Send `request`, retrying what can be retried; a retry of a change carries the same
    Idempotency-Key, so it also checks the outcome of an attempt left unanswered."""
    sent = _Sent()
    changes = request.method != "GET"
    for attempt in range(action.retries + 1):
        sent.attempts = attempt + 1
        if attempt:
            await asyncio.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
        try:
            response = await client.send(request)
        except NOT_SENT as exc:
            sent.error = f"could not connect ({type(exc).__name__})"
            continue
        except httpx.TimeoutException:
            sent.error = f"timed out after {action.timeout:g} s"
            sent.maybe_applied = sent.maybe_applied or changes
            continue
        except httpx.TransportError as exc:
            sent.error = f"lost the connection ({type(exc).__name__})"
            sent.maybe_applied = sent.maybe_applied or changes
            continue
        if response.status_code in RETRY_STATUSES:
            sent.error = f"answered {response.status_code}"
            continue
        sent.response = response
        sent.error = None
        return sent
    return sent


def _safe_headers(headers: dict[str, Any]) -> dict[str, str]:
    """Rendered headers as strings; TemplateProblem for a value that would break the request
    (CR, LF or NUL: a header injection) or that is not ASCII-encodable text."""
    safe = {}
    for name, value in headers.items():
        text = str(value)
        if UNSAFE_HEADER_CHARS & set(text):
            raise TemplateProblem(f"header {name!r} would contain a line break or NUL")
        safe[name] = text
    return safe


async def run_http(
    client: httpx.AsyncClient,
    intent: IntentDef,
    action: HttpAction,
    *,
    slots: dict[str, str],
    target: IntegrationTarget | None,
    idempotency_key: str,
    customer: dict[str, Any] | None = None,
) -> ActionOutcome:
    """Call the integration, then render the reply for its status from the JSON response;
    templates read `customer` (the verified customer's values, empty when anonymous)."""
    started = time.perf_counter()
    customer = customer if customer is not None else template_customer(None)

    def failed(
        error: str, *, status: int | None = None, attempts: int = 0, unknown: bool = False
    ) -> ActionOutcome:
        elapsed = (time.perf_counter() - started) * 1000.0
        log.warning(
            "intent %s: %s %s on integration %r %s: %s",
            intent.name,
            action.method,
            action.path,
            action.integration,
            "has an unknown outcome" if unknown else "failed",
            error,
        )
        return ActionOutcome(
            ok=False,
            status_code=status,
            error=error,
            attempts=attempts,
            elapsed_ms=elapsed,
            unknown=unknown,
        )

    if target is None:
        return failed(f"integration {action.integration!r} is not configured")
    try:
        path = render_path(action.path, slots=slots, customer=customer)
        params = render_value(action.query, slots=slots, customer=customer)
        headers = _safe_headers(
            {**render_value(action.headers, slots=slots, customer=customer), **target.headers}
        )
        body = (
            render_value(action.body, slots=slots, customer=customer)
            if action.body is not None
            else None
        )
    except TemplateProblem as exc:
        return failed(f"the request cannot be formed: {exc}")
    headers.setdefault("Idempotency-Key", idempotency_key)
    try:
        request = client.build_request(
            action.method,
            target.base_url.rstrip("/") + "/" + path.lstrip("/"),
            params=params,
            headers=headers,
            json=body,
            timeout=action.timeout,
        )
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        return failed(f"the request cannot be formed ({type(exc).__name__})")
    sent = await _send(client, request, action)
    response = sent.response
    attempts = sent.attempts
    if response is None:
        return failed(
            f"{sent.error or 'no response'}; it may have been carried out: check before retrying"
            if sent.maybe_applied
            else sent.error or "no response",
            attempts=attempts,
            unknown=sent.maybe_applied,
        )
    status = response.status_code
    template = action.reply if 200 <= status < 300 else action.replies.get(status)
    if template is None:
        return failed(f"answered {status}", status=status, attempts=attempts)
    try:
        payload = response.json() if response.content else None
    except ValueError:
        return failed(f"answered {status} with a body that is not JSON", status=status)
    try:
        text = render(
            template, slots=slots, customer=customer, response=payload, status_code=status
        )
    except TemplateProblem as exc:
        return failed(str(exc), status=status, attempts=attempts)
    elapsed = (time.perf_counter() - started) * 1000.0
    return ActionOutcome(
        ok=True, text=text, status_code=status, attempts=attempts, elapsed_ms=elapsed
    )
