"""email digests' per-reader send ledger

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
# The ledger points at the core's ``digests`` table.
depends_on = "0013"


def upgrade() -> None:
    op.create_table(
        "email_digest_sends",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["digests.id"],
            name=op.f("fk_email_digest_sends_digest_id_digests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["email_subscribers.id"],
            name=op.f("fk_email_digest_sends_subscriber_id_email_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest_id", "subscriber_id", name=op.f("pk_email_digest_sends")),
    )
    # Like the story ledger (0017): no index on status, and room on each page for a row's next
    # versions, so a reader's moves (pending, sending, sent) write no index entries.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE email_digest_sends SET (fillfactor = 50)")


def downgrade() -> None:
    op.drop_table("email_digest_sends")
