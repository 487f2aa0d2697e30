"""Staff accounts and tokens; conversations gain assignment, queue times, the handoff packet,
follow-up contact and resolution count; message client ids unique per author; internal notes,
canned responses, CSAT ratings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from app.db import BigId, JsonType, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("presence", sa.String(16), nullable=False, server_default="offline"),
        sa.Column("last_seen_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "staff_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_staff_tokens_user_id", "staff_tokens", ["user_id"])
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(
            sa.Column("handoff", JsonType, nullable=False, server_default=sa.text("'{}'"))
        )
        batch.add_column(sa.Column("assigned_agent_id", BigId, nullable=True))
        batch.add_column(sa.Column("queued_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("assigned_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("resolved_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("resolutions", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("follow_up", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("contact_email", sa.String(254), nullable=True))
        batch.create_foreign_key(
            "fk_conversations_assigned_agent_id_users",
            "users",
            ["assigned_agent_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_conversations_assigned_agent_id", ["assigned_agent_id"])
    # Customers and agents choose client ids independently: unique per author.
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_messages_conversation_client", type_="unique")
        batch.create_unique_constraint(
            "uq_messages_conversation_client", ["conversation_id", "author", "client_id"]
        )
    op.create_table(
        "conversation_notes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(36),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("author_id", BigId, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_conversation_notes_conversation_id", "conversation_notes", ["conversation_id"]
    )
    op.create_table(
        "canned_responses",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("shortcut", sa.String(50), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "csat_ratings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(36),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("agent_id", BigId, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "conversation_id", "resolution", name="uq_csat_conversation_resolution"
        ),
    )


def downgrade() -> None:
    op.drop_table("csat_ratings")
    op.drop_table("canned_responses")
    op.drop_table("conversation_notes")
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_messages_conversation_client", type_="unique")
        batch.create_unique_constraint(
            "uq_messages_conversation_client", ["conversation_id", "client_id"]
        )
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_assigned_agent_id")
        batch.drop_constraint("fk_conversations_assigned_agent_id_users", type_="foreignkey")
        for column in (
            "contact_email",
            "follow_up",
            "resolutions",
            "resolved_at",
            "assigned_at",
            "queued_at",
            "assigned_agent_id",
            "handoff",
        ):
            batch.drop_column(column)
    op.drop_table("staff_tokens")
    op.drop_table("users")
