"""Canned responses: replies agents insert by shortcut; admins create, edit and delete them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.agents.models import CannedResponse
from app.db import utcnow
from app.errors import CannedResponseNotFound, Conflict

_canned = CannedResponse.__table__


def _taken(shortcut: str) -> Conflict:
    return Conflict(f"a canned response with shortcut {shortcut!r} exists; choose another")


def list_canned(conn: Connection) -> list[dict[str, Any]]:
    """Every canned response, by shortcut."""
    return [dict(r) for r in conn.execute(select(_canned).order_by(_canned.c.shortcut)).mappings()]


def create_canned(conn: Connection, *, shortcut: str, title: str, text: str) -> dict[str, Any]:
    """Store a new canned response (409 if the shortcut is taken)."""
    now = utcnow()
    try:
        with conn.begin_nested():
            row = conn.execute(
                insert(_canned)
                .values(shortcut=shortcut, title=title, text=text, created_at=now, updated_at=now)
                .returning(*_canned.c)
            )
            return dict(row.mappings().one())
    except IntegrityError as exc:
        raise _taken(shortcut) from exc


def update_canned(
    conn: Connection, *, canned_id: int, shortcut: str, title: str, text: str
) -> dict[str, Any]:
    """Replace a canned response's fields."""
    try:
        with conn.begin_nested():
            row = (
                conn.execute(
                    update(_canned)
                    .where(_canned.c.id == canned_id)
                    .values(shortcut=shortcut, title=title, text=text, updated_at=utcnow())
                    .returning(*_canned.c)
                )
                .mappings()
                .first()
            )
    except IntegrityError as exc:
        raise _taken(shortcut) from exc
    if row is None:
        raise CannedResponseNotFound(canned_id)
    return dict(row)


def delete_canned(conn: Connection, *, canned_id: int) -> None:
    """Delete a canned response."""
    if conn.execute(delete(_canned).where(_canned.c.id == canned_id)).rowcount == 0:
        raise CannedResponseNotFound(canned_id)
