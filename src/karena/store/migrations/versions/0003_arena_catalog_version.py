"""Arenas count changes to their catalog, so workers can cache models, prompts and outputs.

Every write to an arena's models, prompts or outputs bumps ``catalog_version`` in the same
transaction; a worker compares one integer per battle instead of re-reading the catalog.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("arenas", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("catalog_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("arenas", schema=None) as batch_op:
        batch_op.drop_column("catalog_version")
