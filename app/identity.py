"""Verified customers: the host site vouches for who its signed-in visitor is.

The site's server computes `HMAC-SHA256(SWITCHBOARD_IDENTITY__SECRET, customer id)` as hex and
passes it to the widget with the id (and the email and name); the service checks it in constant
time when the conversation opens. Only a conversation opened with a good signature has a
`VerifiedCustomer`; anything a visitor claims without one is not trusted, and not kept.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VerifiedCustomer:
    """A customer whose id the host site signed; email and name come with the signed id."""

    id: str
    email: str | None = None
    name: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The customer as stored and shown to staff."""
        return {"id": self.id, "email": self.email, "name": self.name}


def template_customer(customer: VerifiedCustomer | None) -> dict[str, Any]:
    """What templates see as `customer`: the verified values, or empty strings when the visitor
    is anonymous (so `{% if customer.id %}` works and nothing unverified ever appears)."""
    if customer is None:
        return {"id": "", "email": "", "name": "", "verified": False}
    return {
        "id": customer.id,
        "email": customer.email or "",
        "name": customer.name or "",
        "verified": True,
    }


def customer_signature(secret: str, customer_id: str) -> str:
    """The signature a host site computes on its server: hex HMAC-SHA256 of the id."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def signature_matches(secret: str, customer_id: str, signature: str) -> bool:
    """Whether `signature` is the id's signature (constant-time, case-insensitive hex)."""
    expected = customer_signature(secret, customer_id)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())
