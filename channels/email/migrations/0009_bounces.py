"""email bounces, complaints and unsubscribes by mail

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "email_bounces",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("list_name", sa.String(length=64), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["email_subscribers.id"],
            name=op.f("fk_email_bounces_subscriber_id_email_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_bounces")),
    )
    with op.batch_alter_table("email_bounces", schema=None) as batch_op:
        batch_op.create_index(
            "ix_email_bounces_subscriber_kind",
            ["subscriber_id", "kind", "received_at"],
            unique=False,
        )
        batch_op.create_index("ix_email_bounces_list_kind", ["list_name", "kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("email_bounces", schema=None) as batch_op:
        batch_op.drop_index("ix_email_bounces_list_kind")
        batch_op.drop_index("ix_email_bounces_subscriber_kind")
    op.drop_table("email_bounces")
