"""Conversations keep their verified customer (id, email, name), indexed by customer id.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("customer_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("customer_email", sa.String(254), nullable=True))
        batch.add_column(sa.Column("customer_name", sa.String(200), nullable=True))
    op.create_index("ix_conversations_customer_id", "conversations", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_conversations_customer_id", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("customer_name")
        batch.drop_column("customer_email")
        batch.drop_column("customer_id")
