"""A durable job queue for live generation, and battles that wait for their outputs.

``generation_jobs``: one row per (model, prompt) output to make, claimed by ``karena worker``
processes (PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite a conditional ``UPDATE``) under a
lease. ``pending_battles``: a typed prompt's battle until its outputs are ready. Two new tables
only: nothing existing is altered or rebuilt.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "generation_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("arena_id", sa.Integer(), _fk("arenas"), nullable=False),
        sa.Column("model_id", sa.Integer(), _fk("models"), nullable=False),
        sa.Column("prompt_id", sa.Integer(), _fk("prompts"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("available_at", sa.DateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("model_id", "prompt_id", name="uq_generation_jobs_model_prompt"),
    )
    op.create_index("ix_generation_jobs_arena_id", "generation_jobs", ["arena_id"])
    op.create_index(
        "ix_generation_jobs_state_available", "generation_jobs", ["state", "available_at"]
    )
    op.create_table(
        "pending_battles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("arena_id", sa.Integer(), _fk("arenas"), nullable=False),
        sa.Column("prompt_id", sa.Integer(), _fk("prompts"), nullable=False),
        sa.Column("model_ids", sa.JSON(), nullable=False),
        sa.Column("voter_hash", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("next_token", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_pending_battles_arena_id", "pending_battles", ["arena_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_battles_arena_id", table_name="pending_battles")
    op.drop_table("pending_battles")
    op.drop_index("ix_generation_jobs_state_available", table_name="generation_jobs")
    op.drop_index("ix_generation_jobs_arena_id", table_name="generation_jobs")
    op.drop_table("generation_jobs")
