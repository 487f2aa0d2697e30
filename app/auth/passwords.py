"""Password hashing with Argon2id (argon2-cffi's RFC 9106 low-memory profile).

A hash is deliberately slow and takes 64 MiB, so request paths hash in a small pool of their own
(`hash_off_loop`, `verify_off_loop`): a burst of logins queues there instead of blocking the
event loop or exhausting memory. An unknown account is checked against a dummy hash, so a login
takes as long whether or not the email exists.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 256

_hasher = PasswordHasher()
_pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="argon2")


def check_strength(password: str) -> str:
    """`password` if it is acceptable, else ValueError saying what is wrong."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"must be at most {MAX_LENGTH} characters")
    if not password.strip():
        raise ValueError("must not be blank")
    return password


def hash_password(password: str) -> str:
    """The Argon2id hash stored in place of `password`."""
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("no account has this password")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches `password_hash`; with no hash (unknown account) it spends the
    same time and answers False."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


async def hash_off_loop(password: str) -> str:
    """`hash_password` in the hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_password, password)


async def verify_off_loop(password_hash: str | None, password: str) -> bool:
    """`verify_password` in the hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(
        _pool, verify_password, password_hash, password
    )
