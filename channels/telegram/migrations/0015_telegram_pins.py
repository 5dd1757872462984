"""telegram pinned stories and their pending unpins

Revision ID: 0015
Revises: 0001
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0001"
branch_labels = ("telegram",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_pins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("chat", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unpin_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_pins")),
        sa.UniqueConstraint("chat", "message_id", name=op.f("uq_telegram_pins_chat_message_id")),
    )
    op.create_index("ix_telegram_pins_due", "telegram_pins", ["status", "unpin_at"])


def downgrade() -> None:
    op.drop_index("ix_telegram_pins_due", table_name="telegram_pins")
    op.drop_table("telegram_pins")
