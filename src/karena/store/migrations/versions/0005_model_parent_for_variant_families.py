"""Models can declare a parent: variant families (quantised, pruned or cached variants).

Adds ``models.parent_id``, a nullable reference to another model of the same arena (the store
checks the arena and refuses cycles). Deleting the parent leaves the variant without one.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_models_parent_id_models", "models", ["parent_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_models_parent_id", ["parent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_index("ix_models_parent_id")
        batch_op.drop_constraint("fk_models_parent_id_models", type_="foreignkey")
        batch_op.drop_column("parent_id")
