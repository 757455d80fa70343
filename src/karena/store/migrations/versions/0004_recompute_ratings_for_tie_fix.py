"""Recompute every arena's ratings with the rating models' tie fix.

The default ``thurstone`` model now weighs a vote's pairs so that ties of any K keep σ (see
docs/ratings.md, "Ties"), and the factor graph is exact in the tails and orders a tie by rating.
Stored ratings were made with the old maths, so a replay of the vote log would no longer give
them back: this replays each arena's counted votes in ``seq`` order with the arena's model and
writes μ and σ (vote counts and pair counts do not depend on the model). Core tables only, so
the migration does not depend on the ORM as it is today.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ARENAS = sa.table(
    "arenas",
    sa.column("id", sa.Integer),
    sa.column("rating_model", sa.String),
    sa.column("rating_params", sa.JSON),
)
_VOTES = sa.table(
    "votes",
    sa.column("arena_id", sa.Integer),
    sa.column("seq", sa.Integer),
    sa.column("mode", sa.String),
    sa.column("ranks", sa.JSON),
    sa.column("model_ids", sa.JSON),
    sa.column("counted", sa.Boolean),
)
_RATINGS = sa.table(
    "ratings",
    sa.column("arena_id", sa.Integer),
    sa.column("model_id", sa.Integer),
    sa.column("mu", sa.Float),
    sa.column("sigma", sa.Float),
)


def upgrade() -> None:
    from karena.rating.registry import rating_model
    from karena.rating.types import Vote, stored_outcome

    conn = op.get_bind()
    for arena_id, name, params in conn.execute(sa.select(_ARENAS)).all():
        model = rating_model(str(name), dict(params or {}))
        rows = conn.execute(
            sa.select(_VOTES.c.model_ids, _VOTES.c.mode, _VOTES.c.ranks)
            .where(_VOTES.c.arena_id == arena_id, _VOTES.c.counted.is_(True))
            .order_by(_VOTES.c.seq)
        )
        votes = (
            Vote(tuple(int(m) for m in ids), stored_outcome(mode, list(ranks)))
            for ids, mode, ranks in rows
        )
        for model_id, rating in model.replay(votes).items():
            conn.execute(
                sa.update(_RATINGS)
                .where(_RATINGS.c.arena_id == arena_id, _RATINGS.c.model_id == model_id)
                .values(mu=rating.mu, sigma=rating.sigma)
            )


def downgrade() -> None:
    """Ratings made with the old maths cannot be restored; downgrading keeps the new ones."""
