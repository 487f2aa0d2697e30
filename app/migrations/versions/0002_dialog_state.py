"""Conversations keep their dialogue state (intent in progress, misses, sentiment history) and
the reason of their last handoff.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from app.db import JsonType

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(
            sa.Column("dialog", JsonType, nullable=False, server_default=sa.text("'{}'"))
        )
        batch.add_column(sa.Column("handoff_reason", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("handoff_reason")
        batch.drop_column("dialog")
