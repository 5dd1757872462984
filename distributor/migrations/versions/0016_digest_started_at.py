"""digests: started_at, when the platform call of the current attempt began

A digest whose worker died after this moment may have been posted: the next worker follows
the channel's in-doubt policy instead of posting it again blindly.

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digests") as batch:
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digests") as batch:
        batch.drop_column("started_at")
