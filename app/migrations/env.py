"""Alembic environment: runs migrations on the connection the service hands over."""

from __future__ import annotations

from alembic import context

from app.conversations import models as _conversation_models  # noqa: F401  (register tables)
from app.db import Base
from app.kb import models as _kb_models  # noqa: F401

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through `python -m app migrate` (it supplies the connection)"
    )

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
