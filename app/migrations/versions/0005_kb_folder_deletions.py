"""Knowledge-folder articles deleted through the API are remembered, so the folder sync at
start does not create them again from an unchanged file.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from app.db import BigId, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_folder_deletions",
        sa.Column("slug", sa.String(200), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("deleted_by", BigId, nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kb_folder_deletions")
