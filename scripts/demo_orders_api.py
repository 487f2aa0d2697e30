"""The demo store's orders system: a small real HTTP service the demo intents call.

    python scripts/demo_orders_api.py [--host 127.0.0.1] [--port 8077] [--data FILE]

It stands in for a shop's back office on loopback (`make run` starts it beside the chat
service; the tests start it the same way). Customers and their orders are read from a JSON file
(`scripts/demo_data/orders.json`); refunds, cancellations and password-reset requests are kept
in memory, so every start begins from the file. Set `DEMO_ORDERS_TOKEN` to require
`Authorization: Bearer <token>` (the chat service sends it from `SWITCHBOARD_INTEGRATIONS`).

Every order belongs to a customer, and the order routes answer only about the orders of the
customer named by `X-Customer-Id` (the chat service sends the verified customer's id): an order
of another customer, or a call without the header, answers exactly as an unknown number does
(404), so numbers cannot be enumerated.

Routes:
- `GET /orders/{number}`: the order (404 when unknown). `10042` and `ls-10042` find `LS-10042`.
- `POST /orders/{number}/refunds` `{"reason"?}`: 201 with the refund; 409 when the order was
  not delivered or is already refunded.
- `POST /orders/{number}/cancel`: 200 when still processing; 409 once shipped.
- `POST /password-resets`: 202; the link goes to the `X-Customer-Id` customer's email on
  record (answered masked), never to an address typed in chat.
- `GET /state/orders/{number}`, `GET /state/password-resets`, `GET /state/calls`: what happened
  (the order as held now, the resets sent, every call made to the routes above with its
  customer id), for tests and measurement scripts; behind the bearer token like the rest.
- `GET /healthz`.
POSTs honour `Idempotency-Key`: a repeated key gets the first answer again.

The shop's sign-in, for the demo page (no bearer token: the visitor's browser calls it):
- `GET /demo/customers`: the demo customers (id, name) a visitor may sign in as.
- `POST /demo/sign-in` `{"customer_id"}`: the customer's id, email, name and `signature`
  (hex HMAC-SHA256 of the id with `DEMO_IDENTITY_SECRET`, the secret the chat service has as
  `SWITCHBOARD_IDENTITY__SECRET`) and their order numbers, which the page puts on the widget's
  `data-customer-*` attributes. A real shop signs the id of the customer signed in to its site;
  this demo lets anyone pick one. 503 when no secret is set.
Browsers may call those two from `DEMO_STORE_ORIGINS` (comma-separated; default any origin).

`--test-controls` (tests only) adds `POST /_test/stall {"seconds", "count"}`: the next `count`
changes (non-GET requests) are carried out, then answered `seconds` late, as a back office
that stalls after committing; and `GET /_test/seen`: the raw paths of the requests received.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

DEFAULT_DATA = Path(__file__).resolve().parent / "demo_data" / "orders.json"
ORDER_PREFIX = "LS-"


class RefundIn(BaseModel):
    """A refund request."""

    reason: str = Field("", max_length=500)


class SignInIn(BaseModel):
    """The demo customer a visitor signs in as."""

    customer_id: str = Field(min_length=1, max_length=128)


def mask_email(email: str) -> str:
    """`jordan@example.com` -> `j*****@example.com`."""
    user, _, domain = email.partition("@")
    return f"{user[:1]}{'*' * max(len(user) - 1, 1)}@{domain}"


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


def create_app(
    data_file: Path,
    token: str | None = None,
    identity_secret: str | None = None,
    origins: list[str] | None = None,
    test_controls: bool = False,
) -> FastAPI:
    """The orders service over the customers and orders in `data_file` (with `test_controls`,
    the stall and request log of the tests)."""
    data = json.loads(data_file.read_text(encoding="utf-8"))
    orders: dict[str, dict[str, Any]] = {order["number"]: order for order in data["orders"]}
    customers: dict[str, dict[str, Any]] = {c["id"]: c for c in data["customers"]}
    answered: dict[str, tuple[int, Any]] = {}
    resets: list[dict[str, str]] = []
    calls: list[dict[str, str | None]] = []

    def authorised(authorization: str | None = Header(None)) -> None:
        if token is not None and not (
            authorization and secrets.compare_digest(authorization, f"Bearer {token}")
        ):
            raise HTTPException(401, "missing or wrong bearer token")

    app = FastAPI(title="Larkspur orders (demo)")
    if test_controls:
        add_test_controls(app)

    def recorded(request: Request, x_customer_id: str | None = Header(None)) -> None:
        calls.append(
            {"method": request.method, "path": request.url.path, "customer_id": x_customer_id}
        )

    api = APIRouter(dependencies=[Depends(authorised)])
    business = APIRouter(dependencies=[Depends(authorised), Depends(recorded)])
    shop = APIRouter(prefix="/demo")

    def order_or_404(number: str, customer_id: str | None) -> dict[str, Any]:
        order = orders.get(normal_number(number))
        if order is None or not customer_id or order["customer_id"] != customer_id:
            raise HTTPException(404, f"no order {number}")
        return order

    def once(key: str | None, status: int, body: Any) -> JSONResponse:
        if key:
            status, body = answered.setdefault(key, (status, body))
        return JSONResponse(body, status_code=status)

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @business.get("/orders/{number}")
    def get_order(number: str, x_customer_id: str | None = Header(None)) -> dict[str, Any]:
        return order_or_404(number, x_customer_id)

    @business.post("/orders/{number}/refunds")
    def refund(
        number: str,
        refund_in: RefundIn,
        request: Request,
        idempotency_key: str | None = Header(None),
        x_customer_id: str | None = Header(None),
    ) -> JSONResponse:
        if idempotency_key and idempotency_key in answered:
            return once(idempotency_key, 0, None)
        order = order_or_404(number, x_customer_id)
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

    @business.post("/orders/{number}/cancel")
    def cancel(
        number: str,
        idempotency_key: str | None = Header(None),
        x_customer_id: str | None = Header(None),
    ) -> JSONResponse:
        if idempotency_key and idempotency_key in answered:
            return once(idempotency_key, 0, None)
        order = order_or_404(number, x_customer_id)
        if order["status"] != "processing":
            return once(idempotency_key, 409, {"detail": f"order is {order['status']}"})
        order["status"] = "cancelled"
        return once(idempotency_key, 200, order)

    @business.post("/password-resets", status_code=202)
    def password_reset(x_customer_id: str | None = Header(None)) -> dict[str, Any]:
        customer = customers.get(x_customer_id or "")
        if customer is None:
            return {"accepted": True, "sent_to": None, "expires_in_minutes": 30}
        resets.append({"customer_id": customer["id"], "email": customer["email"]})
        return {
            "accepted": True,
            "sent_to": mask_email(customer["email"]),
            "expires_in_minutes": 30,
        }

    @api.get("/state/orders/{number}")
    def order_state(number: str) -> dict[str, Any]:
        order = orders.get(normal_number(number))
        if order is None:
            raise HTTPException(404, f"no order {number}")
        return order

    @api.get("/state/password-resets")
    def reset_state() -> list[dict[str, str]]:
        return resets

    @api.get("/state/calls")
    def call_state() -> list[dict[str, str | None]]:
        return calls

    @shop.get("/customers")
    def demo_customers() -> list[dict[str, Any]]:
        return [{"id": c["id"], "name": c["name"]} for c in customers.values()]

    @shop.post("/sign-in")
    def sign_in(sign_in_in: SignInIn) -> dict[str, Any]:
        if not identity_secret:
            raise HTTPException(503, "no DEMO_IDENTITY_SECRET: this shop cannot sign customers")
        customer = customers.get(sign_in_in.customer_id)
        if customer is None:
            raise HTTPException(404, f"no demo customer {sign_in_in.customer_id}")
        signature = hmac.new(
            identity_secret.encode(), customer["id"].encode(), hashlib.sha256
        ).hexdigest()
        owned = [o["number"] for o in orders.values() if o["customer_id"] == customer["id"]]
        return {**customer, "signature": signature, "orders": owned}

    app.include_router(api)
    app.include_router(business)
    app.include_router(shop)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins or ["*"],
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
    )
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
    secret = os.environ.get("DEMO_IDENTITY_SECRET") or None
    origins = [o.strip() for o in os.environ.get("DEMO_STORE_ORIGINS", "").split(",") if o.strip()]
    app = create_app(
        args.data, token, identity_secret=secret, origins=origins, test_controls=args.test_controls
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
