"""The demo store's orders system: a small real HTTP service the demo intents call.

    python scripts/demo_orders_api.py [--host 127.0.0.1] [--port 8077] [--data FILE]

It stands in for a shop's back office on loopback (`make run` starts it beside the chat
service; the tests start it the same way). Orders are read from a JSON file
(`scripts/demo_data/orders.json`); refunds, cancellations and password-reset requests are kept
in memory, so every start begins from the file. Set `DEMO_ORDERS_TOKEN` to require
`Authorization: Bearer <token>` (the chat service sends it from `SWITCHBOARD_INTEGRATIONS`).

Routes:
- `GET /orders/{number}`: the order (404 when unknown). `10042` and `ls-10042` find `LS-10042`.
- `POST /orders/{number}/refunds` `{"reason"?}`: 201 with the refund; 409 when the order was
  not delivered or is already refunded.
- `POST /orders/{number}/cancel`: 200 when still processing; 409 once shipped.
- `POST /password-resets` `{"email"}`: 202 whether or not an account exists (no enumeration).
- `GET /password-resets?email=`: how many reset requests this service received for the email
  (what the demo's limits are checked against).
- `GET /healthz`.
POSTs honour `Idempotency-Key`: a repeated key gets the first answer again.

`--test-controls` (tests only) adds `POST /_test/stall {"seconds", "count"}`: the next `count`
changes (non-GET requests) are carried out, then answered `seconds` late, as a back office
that stalls after committing; and `GET /_test/seen`: the raw paths of the requests received.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

DEFAULT_DATA = Path(__file__).resolve().parent / "demo_data" / "orders.json"
ORDER_PREFIX = "LS-"


class RefundIn(BaseModel):
    """A refund request."""

    reason: str = Field("", max_length=500)


class PasswordResetIn(BaseModel):
    """A password-reset request."""

    email: str = Field(min_length=3, max_length=320)


def normal_number(number: str) -> str:
    """`10042`, `ls10042` and `LS-10042` all name order `LS-10042`."""
    digits = re.sub(r"\D", "", number)
    return f"{ORDER_PREFIX}{digits}"


class StallIn(BaseModel):
    """How the next changes are answered late (test controls)."""

    seconds: float = Field(ge=0, le=60)
    count: int = Field(1, ge=0, le=1000)


def add_test_controls(app: FastAPI) -> None:
    """`POST /_test/stall` and `GET /_test/seen` (see the module's docstring)."""
    stall = {"seconds": 0.0, "count": 0}
    seen: list[str] = []

    @app.middleware("http")
    async def stalling(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.scope.get("raw_path", b"").decode("latin-1")
        if not path.startswith("/_test/"):
            seen.append(f"{request.method} {path}")
        response = await call_next(request)
        if request.method != "GET" and not path.startswith("/_test/") and stall["count"] > 0:
            stall["count"] -= 1
            await asyncio.sleep(stall["seconds"])
        return response

    @app.post("/_test/stall")
    def set_stall(stall_in: StallIn) -> dict[str, float]:
        stall.update(seconds=stall_in.seconds, count=stall_in.count)
        return stall

    @app.get("/_test/seen")
    def get_seen() -> list[str]:
        return seen


def create_app(data_file: Path, token: str | None = None, test_controls: bool = False) -> FastAPI:
    """The orders service over the orders in `data_file` (with `test_controls`, the stall and
    request log of the tests)."""
    orders: dict[str, dict[str, Any]] = {
        order["number"]: order
        for order in json.loads(data_file.read_text(encoding="utf-8"))["orders"]
    }
    answered: dict[str, tuple[int, Any]] = {}
    resets: list[str] = []

    def authorised(authorization: str | None = Header(None)) -> None:
        if token is not None and not (
            authorization and secrets.compare_digest(authorization, f"Bearer {token}")
        ):
            raise HTTPException(401, "missing or wrong bearer token")

    app = FastAPI(title="Larkspur orders (demo)", dependencies=[Depends(authorised)])
    if test_controls:
        add_test_controls(app)

    def order_or_404(number: str) -> dict[str, Any]:
        order = orders.get(normal_number(number))
        if order is None:
            raise HTTPException(404, f"no order {number}")
        return order

    def once(key: str | None, status: int, body: Any) -> JSONResponse:
        if key:
            status, body = answered.setdefault(key, (status, body))
        return JSONResponse(body, status_code=status)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/orders/{number}")
    def get_order(number: str) -> dict[str, Any]:
        return order_or_404(number)

    @app.post("/orders/{number}/refunds")
    def refund(
        number: str,
        refund_in: RefundIn,
        request: Request,
        idempotency_key: str | None = Header(None),
    ) -> JSONResponse:
        if idempotency_key and idempotency_key in answered:
            return once(idempotency_key, 0, None)
        order = order_or_404(number)
        if order.get("refund"):
            body = {"detail": "already refunded", "refund": order["refund"]}
            return once(idempotency_key, 409, body)
        if order["status"] != "delivered":
            return once(idempotency_key, 409, {"detail": f"order is {order['status']}"})
        order["refund"] = {
            "id": f"RF-{len([o for o in orders.values() if o.get('refund')]) + 1:04d}",
            "amount": order["total"],
            "currency": order["currency"],
            "reason": refund_in.reason,
            "status": "approved",
            "days_to_arrive": 5,
        }
        return once(idempotency_key, 201, order["refund"])

    @app.post("/orders/{number}/cancel")
    def cancel(number: str, idempotency_key: str | None = Header(None)) -> JSONResponse:
        if idempotency_key and idempotency_key in answered:
            return once(idempotency_key, 0, None)
        order = order_or_404(number)
        if order["status"] != "processing":
            return once(idempotency_key, 409, {"detail": f"order is {order['status']}"})
        order["status"] = "cancelled"
        return once(idempotency_key, 200, order)

    @app.post("/password-resets", status_code=202)
    def password_reset(reset_in: PasswordResetIn) -> dict[str, Any]:
        resets.append(reset_in.email.lower())
        return {"accepted": True, "expires_in_minutes": 30}

    @app.get("/password-resets")
    def password_resets_sent(email: str) -> dict[str, Any]:
        return {"email": email.lower(), "requests": resets.count(email.lower())}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8077)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--test-controls", action="store_true", help="add the tests' /_test/ routes"
    )
    args = parser.parse_args()

    import uvicorn

    token = os.environ.get("DEMO_ORDERS_TOKEN") or None
    app = create_app(args.data, token, test_controls=args.test_controls)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
