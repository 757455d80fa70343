"""Boards: the leaderboard, the exact rebuild, model pages and what the judge and rewards read.

Judge placements (``karena eval --place``) live here too: written in their own table, joined into
the leaderboard read, never into votes or ratings.

The rating arithmetic (rebuild, leaderboard rows) is :mod:`karena.store.ratings`; this service
opens the transactions around it and shapes its answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from karena.rating.leaderboard import JudgePlacement, LeaderboardRow
from karena.store import reads
from karena.store.context import StoreContext
from karena.store.families import arena_beta, model_family
from karena.store.lookups import find_arena, find_model, lock_arena, page_bounds
from karena.store.models import JudgePlacementRow, Model, RatingRow
from karena.store.ratings import (
    leaderboard_rows,
    load_placements,
    load_ratings,
    model_for_arena,
    rebuild,
    save_placement,
)
from karena.store.types import ModelPage, PairVote, Recomputed, ReferenceBattle

__all__ = ["Boards"]


class Boards:
    """Leaderboards, recomputation and the reads built on ratings: ``store.boards``."""

    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    def leaderboard(
        self, *, arena: str, include_disabled: bool = True
    ) -> tuple[LeaderboardRow, ...]:
        """Leaderboard rows sorted by μ − 3σ, best first."""
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            models = list(s.scalars(select(Model).where(Model.arena_id == a.id)))
            return leaderboard_rows(
                models,
                load_ratings(s, a.id),
                prior=model_for_arena(a).initial(),
                provisional_sigma=self.ctx.settings.provisional_sigma,
                include_disabled=include_disabled,
                placements=load_placements(s, a.id),
            )

    def place_model(self, *, arena: str, model: str, placement: JudgePlacement) -> LeaderboardRow:
        """Record a judge's placement of ``model`` (K-Sort Eval) and return its board row.

        The placement replaces any earlier one of the model and is stored apart from votes and
        ratings; the row shows it, marked, until the human rating is at least as certain
        (:func:`karena.rating.leaderboard.judge_gives_way`).
        """
        with self.ctx.db.write() as s:
            a = find_arena(s, arena)
            m = find_model(s, a, model)
            save_placement(s, arena_id=a.id, model_id=m.id, placement=placement, now=self.ctx.now())
            model_id = m.id
        return next(r for r in self.leaderboard(arena=arena) if r.model_id == model_id)

    def placements(self, *, arena: str) -> dict[str, JudgePlacement]:
        """The arena's judge placements by model name, whether they stand or have given way."""
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            names = {m.id: m.name for m in s.scalars(select(Model).where(Model.arena_id == a.id))}
            return {names[mid]: p for mid, p in load_placements(s, a.id).items()}

    def remove_placement(self, *, arena: str, model: str) -> bool:
        """Drop a model's judge placement; True if there was one."""
        with self.ctx.db.write() as s:
            a = find_arena(s, arena)
            m = find_model(s, a, model)
            result = s.execute(
                delete(JudgePlacementRow).where(
                    JudgePlacementRow.arena_id == a.id, JudgePlacementRow.model_id == m.id
                )
            )
            return bool(getattr(result, "rowcount", 0))

    def recompute(self, *, arena: str) -> int:
        """Rebuild ratings and pair counts from the counted vote log; returns votes replayed."""
        return self.recompute_report(arena=arena).votes

    def recompute_report(self, *, arena: str) -> Recomputed:
        """Rebuild as :meth:`recompute`, and measure how far the live ratings were from it.

        The live ratings are read in the same transaction, under the arena lock, just before
        the rebuild: a vote recorded meanwhile cannot look like drift (issue 13, finding 11).
        """
        with self.ctx.db.write() as s:
            a = find_arena(s, arena)
            a = lock_arena(s, a.id)
            prior = model_for_arena(a).initial()
            live = _rating_values(s, a.id)
            votes = rebuild(s, arena=a, now=self.ctx.now())
            rebuilt = _rating_values(s, a.id)
        start = (prior.mu, prior.sigma)  # a model without a row has its prior
        change = 0.0
        for m in live.keys() | rebuilt.keys():
            (mu0, sigma0), (mu1, sigma1) = live.get(m, start), rebuilt.get(m, start)
            change = max(change, abs(mu1 - mu0) + abs(sigma1 - sigma0))
        return Recomputed(votes=votes, largest_change=change)

    def model_page(self, *, arena: str, name: str, offset: int = 0, limit: int = 50) -> ModelPage:
        """A model's battles (newest first), head-to-head records and variant family."""
        offset, limit = page_bounds(offset, limit)
        board = {row.model_id: row for row in self.leaderboard(arena=arena)}
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            m = find_model(s, a, name)
            page = reads.model_page(s, a, m, board.get(m.id), offset=offset, limit=limit)
            family = model_family(
                s,
                m,
                page.opponents,
                margin=self.ctx.settings.variant_margin,
                beta=arena_beta(a.rating_model, a.rating_params),
            )
            parent = family.parent.parent if family is not None and family.parent else None
            return replace(page, model=replace(page.model, parent=parent), family=family)

    def reference_battles(
        self, *, arena: str, limit: int | None = None, modes: Sequence[str] = ("rank",)
    ) -> tuple[ReferenceBattle, ...]:
        """Counted voted battles with their K outputs and human ranks (K-Sort Eval instances)."""
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            return reads.reference_battles(s, a, self.ctx.media, limit=limit, modes=tuple(modes))

    def pair_votes(self, *, arena: str) -> tuple[PairVote, ...]:
        """Counted votes decomposed into pairwise facts, in sequence order (ArenaPO's input)."""
        return tuple(reads.pair_votes(reads.iter_votes(self.ctx.db, arena, counted_only=True)))


def _rating_values(session: Session, arena_id: int) -> dict[int, tuple[float, float]]:
    """(μ, σ) by model id, read with Core (no ORM objects to clash with the rebuild's)."""
    rows = session.execute(
        select(RatingRow.model_id, RatingRow.mu, RatingRow.sigma).where(
            RatingRow.arena_id == arena_id
        )
    )
    return {int(m): (float(mu), float(sigma)) for m, mu, sigma in rows}
