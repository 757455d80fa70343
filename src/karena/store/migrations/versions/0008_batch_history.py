"""A table of batch-board history points: the batch board fitted to a prefix of the vote log.

The rating history (``GET /api/models/{name}/history``) shows the batch board at intervals;
each fit of a large log takes seconds, so its points are kept here, keyed by arena and vote
count, with a digest of the log prefix they were fitted to. A new table only: nothing is
rebuilt on SQLite.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_history",
        sa.Column(
            "arena_id",
            sa.Integer(),
            sa.ForeignKey("arenas.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("votes", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("board", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("batch_history")
