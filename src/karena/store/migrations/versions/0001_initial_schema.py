"""Initial schema: arenas, models, prompts, outputs, battles, votes, ratings, snapshots, bans.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 12:58:47.929453
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arenas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("rating_model", sa.String(length=64), nullable=False),
        sa.Column("rating_params", sa.JSON(), nullable=False),
        sa.Column("matchmaker", sa.String(length=64), nullable=False),
        sa.Column("matchmaker_params", sa.JSON(), nullable=False),
        sa.Column("vote_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "banned_voters",
        sa.Column("voter_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("voter_hash"),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arena_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organization", sa.String(length=200), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("generator", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["arena_id"], ["arenas.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("arena_id", "name", name="uq_models_arena_name"),
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_models_arena_id"), ["arena_id"], unique=False)

    op.create_table(
        "prompts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arena_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["arena_id"], ["arenas.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("arena_id", "key", name="uq_prompts_arena_key"),
    )
    with op.batch_alter_table("prompts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prompts_arena_id"), ["arena_id"], unique=False)

    op.create_table(
        "rating_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arena_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("ratings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["arena_id"], ["arenas.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rating_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_snapshots_arena_seq", ["arena_id", "seq"], unique=False)

    op.create_table(
        "battles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arena_id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("voter_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["arena_id"], ["arenas.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    with op.batch_alter_table("battles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_battles_arena_state_expires", ["arena_id", "state", "expires_at"], unique=False
        )

    op.create_table(
        "outputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", "prompt_id", name="uq_outputs_model_prompt"),
    )
    with op.batch_alter_table("outputs", schema=None) as batch_op:
        batch_op.create_index("ix_outputs_prompt_model", ["prompt_id", "model_id"], unique=False)

    op.create_table(
        "pair_counts",
        sa.Column("arena_id", sa.Integer(), nullable=False),
        sa.Column("model_a", sa.Integer(), nullable=False),
        sa.Column("model_b", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["arena_id"], ["arenas.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["model_a"], ["models.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["model_b"], ["models.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("arena_id", "model_a", "model_b"),
    )
    op.create_table(
        "ratings",
        sa.Column("arena_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("mu", sa.Double(), nullable=False),
        sa.Column("sigma", sa.Double(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["arena_id"], ["arenas.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("arena_id", "model_id"),
    )
    op.create_table(
        "battle_slots",
        sa.Column("battle_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("output_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["battle_id"], ["battles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["output_id"], ["outputs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("battle_id", "position"),
    )
    with op.batch_alter_table("battle_slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_battle_slots_model_id"), ["model_id"], unique=False)

    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arena_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("battle_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("ranks", sa.JSON(), nullable=False),
        sa.Column("model_ids", sa.JSON(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("voter_hash", sa.String(length=64), nullable=False),
        sa.Column("client", sa.JSON(), nullable=False),
        sa.Column("reveal", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["arena_id"], ["arenas.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["battle_id"], ["battles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("arena_id", "seq", name="uq_votes_arena_seq"),
        sa.UniqueConstraint("battle_id"),
    )
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.create_index("ix_votes_voter_created", ["voter_hash", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_index("ix_votes_voter_created")

    op.drop_table("votes")
    with op.batch_alter_table("battle_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_battle_slots_model_id"))

    op.drop_table("battle_slots")
    op.drop_table("ratings")
    op.drop_table("pair_counts")
    with op.batch_alter_table("outputs", schema=None) as batch_op:
        batch_op.drop_index("ix_outputs_prompt_model")

    op.drop_table("outputs")
    with op.batch_alter_table("battles", schema=None) as batch_op:
        batch_op.drop_index("ix_battles_arena_state_expires")

    op.drop_table("battles")
    with op.batch_alter_table("rating_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_snapshots_arena_seq")

    op.drop_table("rating_snapshots")
    with op.batch_alter_table("prompts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prompts_arena_id"))

    op.drop_table("prompts")
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_models_arena_id"))

    op.drop_table("models")
    op.drop_table("banned_voters")
    op.drop_table("arenas")
