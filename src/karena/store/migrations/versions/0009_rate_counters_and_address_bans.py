"""Atomic rate limits and address bans: tables ``rate_counters`` and ``banned_addresses``.

``rate_counters`` holds one row per (limit key, slot); every limit (votes, new battles, exports,
live generations) takes its events there with one locked upsert per batch, so a limit holds
under concurrent requests and across worker processes. ``banned_addresses`` holds the keyed
hashes of the addresses a banned voter voted from, so that fresh cookies from there stay banned.

Two new tables, no table rebuilt: safe on SQLite and PostgreSQL in both directions.

Revision ID: 0009
Revises: 0008
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
        "rate_counters",
        sa.Column("bucket", sa.String(120), primary_key=True),
        sa.Column("slot", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_rate_counters_expires", "rate_counters", ["expires"])
    op.create_table(
        "banned_addresses",
        sa.Column("address_hash", sa.String(64), primary_key=True),
        sa.Column("voter_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_banned_addresses_voter", "banned_addresses", ["voter_hash"])


def downgrade() -> None:
    op.drop_index("ix_banned_addresses_voter", table_name="banned_addresses")
    op.drop_table("banned_addresses")
    op.drop_index("ix_rate_counters_expires", table_name="rate_counters")
    op.drop_table("rate_counters")
