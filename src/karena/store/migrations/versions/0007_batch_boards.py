"""A table of fitted batch boards: the order-independent leaderboard, per arena and category.

The batch board (:func:`karena.rating.batch_board.fit_batch_board`) is fitted in the background
from the counted votes and stored here, one row per (arena, category); ``category`` is ``""``
for the arena's overall board. ``rows`` holds the fitted leaderboard rows; ``vote_seq`` is the
arena's vote sequence number when the votes were read (the refresher compares it with the
arena's to count new votes) and ``fitting_since`` is the claim a worker takes on the overall row
while it fits, so several workers over one database never fit the same arena at once.

A new table that nothing references: created and dropped alike on SQLite and PostgreSQL.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_boards",
        sa.Column(
            "arena_id",
            sa.Integer(),
            sa.ForeignKey("arenas.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("vote_seq", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("weighted", sa.Boolean(), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(), nullable=True),
        sa.Column("fitting_since", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("batch_boards")
