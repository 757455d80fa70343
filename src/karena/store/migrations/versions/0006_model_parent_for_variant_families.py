"""Models can declare a parent: variant families (quantised, pruned or cached variants).

Adds ``models.parent_id``, a nullable reference to another model of the same arena (the store
checks the arena and refuses cycles). Deleting the parent leaves the variant without one.

SQLite is altered in place, never rebuilt: rebuilding ``models`` (what a batch migration does
to add a foreign key) drops the old table, and with foreign keys on that cascade-deletes every
output, battle slot and rating of the arena. SQLite can add a column with its reference but
cannot drop one that has it, so its downgrade empties the column and keeps it (the older schema
ignores it), and the upgrade adds the column only where it is missing.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _has_parent_column() -> bool:
    return "parent_id" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("models")}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        if not _has_parent_column():
            op.execute(
                "ALTER TABLE models ADD COLUMN parent_id INTEGER "
                "REFERENCES models (id) ON DELETE SET NULL"
            )
    else:
        op.add_column("models", sa.Column("parent_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_models_parent_id_models", "models", "models", ["parent_id"], ["id"],
            ondelete="SET NULL",
        )  # fmt: skip
    op.create_index("ix_models_parent_id", "models", ["parent_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_models_parent_id", table_name="models")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE models SET parent_id = NULL")
        return
    op.drop_constraint("fk_models_parent_id_models", "models", type_="foreignkey")
    op.drop_column("models", "parent_id")
