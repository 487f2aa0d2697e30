"""Who a conversation's customer is: the host site's signed identity, checked once when the
conversation opens (app/identity.py has the signature itself).

A good signature makes the visitor a `VerifiedCustomer`, stored with the conversation; a wrong
one is refused (400, saying so), as is a signature sent while no secret is configured; no
signature at all leaves the visitor anonymous, and what they claimed is not kept.
"""

from __future__ import annotations

from pydantic import SecretStr

from app.conversations.schemas import CustomerIn, CustomerRead
from app.errors import AppError
from app.identity import VerifiedCustomer, signature_matches


class IdentityRefused(AppError):
    """The customer identity sent with a new conversation cannot be trusted."""

    status_code = 400
    code = "identity_refused"


def verified_customer(
    customer_in: CustomerIn | None, secret: SecretStr | None
) -> VerifiedCustomer | None:
    """The verified customer the request proves, None for an anonymous visitor; raises
    IdentityRefused for a signature that does not match (or that nothing can check)."""
    if customer_in is None or customer_in.signature is None:
        return None
    if secret is None:
        raise IdentityRefused(
            "customer.signature was sent but this service has no identity secret "
            "(SWITCHBOARD_IDENTITY__SECRET) to check it with; open the conversation without "
            "a customer, or configure the secret"
        )
    if not signature_matches(secret.get_secret_value(), customer_in.id, customer_in.signature):
        raise IdentityRefused(
            "customer.signature does not match customer.id: sign the id on your server with "
            "HMAC-SHA256 and the identity secret, as hex"
        )
    return VerifiedCustomer(
        id=customer_in.id,
        email=str(customer_in.email) if customer_in.email else None,
        name=customer_in.name,
    )


def customer_read(customer: VerifiedCustomer | None) -> CustomerRead | None:
    """The customer as the API shows it."""
    if customer is None:
        return None
    return CustomerRead(id=customer.id, email=customer.email, name=customer.name)
