"""Bearer secrets: made by `secrets`, stored only as SHA-256 digests, compared in constant time.

Conversation tokens are 256-bit random values, so a fast digest is enough (unlike passwords,
which need a slow hash).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token() -> str:
    """A fresh URL-safe bearer secret."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The digest stored in place of `token`."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Whether `token` is the secret behind `stored_hash`."""
    return hmac.compare_digest(hash_token(token), stored_hash)
