"""developing stories: an article may be the follow-up of another

Revision ID: 0005
Revises: 0001
Create Date: 2026-12-06 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = ("timing",)
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot add a foreign key to an existing table in place.
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("follow_up_of", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_articles_follow_up_of_articles",
            "articles",
            ["follow_up_of"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_constraint("fk_articles_follow_up_of_articles", type_="foreignkey")
        batch.drop_column("follow_up_of")
