"""Boards: the leaderboard, the exact rebuild, model pages and what the judge and rewards read.

Judge placements (``karena eval --place``) live here too: written in their own table, joined into
the leaderboard read, never into votes or ratings.

The rating arithmetic (rebuild, leaderboard rows) is :mod:`karena.store.ratings`; this service
opens the transactions around it and shapes its answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from sqlalchemy import delete, select

from karena.rating.leaderboard import JudgePlacement, LeaderboardRow, with_movement
from karena.store import reads
from karena.store.context import StoreContext
from karena.store.families import arena_beta, model_family
from karena.store.history import earlier_ratings, log_ready, model_history
from karena.store.lookups import find_arena, find_model, lock_arena, page_bounds
from karena.store.models import JudgePlacementRow, Model
from karena.store.ratings import (
    StoredRating,
    leaderboard_rows,
    load_placements,
    load_ratings,
    model_for_arena,
    rebuild,
    save_placement,
)
from karena.store.types import ModelHistory, ModelPage, PairVote, ReferenceBattle

__all__ = ["Boards"]


class Boards:
    """Leaderboards, recomputation and the reads built on ratings: ``store.boards``."""

    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    def leaderboard(
        self, *, arena: str, include_disabled: bool = True
    ) -> tuple[LeaderboardRow, ...]:
        """Leaderboard rows sorted by μ − 3σ, best first.

        Each row's ``movement`` compares with the same board built from the ratings as they
        stood ``Settings.movement_votes`` counted votes ago (a replay from this worker's vote
        log cache; 0 turns it off).
        """
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            models = list(s.scalars(select(Model).where(Model.arena_id == a.id)))
            placements = load_placements(s, a.id)

            def board(ratings: Mapping[int, StoredRating]) -> tuple[LeaderboardRow, ...]:
                return leaderboard_rows(
                    models,
                    ratings,
                    prior=model_for_arena(a).initial(),
                    provisional_sigma=self.ctx.settings.provisional_sigma,
                    include_disabled=include_disabled,
                    placements=placements,
                )

            rows = board(load_ratings(s, a.id))
            window = self.ctx.settings.movement_votes
            earlier = (
                earlier_ratings(s, self.ctx.vote_logs, arena=a, window=window) if window else None
            )
            if earlier is None:
                return rows
            return with_movement(rows, board(earlier), counted=earlier.keys())

    def history(self, *, arena: str, name: str, points: int | None = None) -> ModelHistory:
        """A model's rating over time: online μ, σ after its votes, and the batch board at
        intervals (points still being fitted are counted in ``batch_pending``)."""
        settings = self.ctx.settings
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            m = find_model(s, a, name)
            return model_history(
                s,
                self.ctx.vote_logs,
                self.ctx.batch_fitter,
                arena=a,
                model=m,
                points=points if points is not None else settings.history_points,
                batch_points=settings.history_batch_points,
                rounds=settings.history_batch_rounds,
            )

    def history_ready(self, *, arena: str) -> bool:
        """Whether :meth:`history` answers at once; if this worker would first have to read a
        long vote log (a cold start on a large arena), that read starts in the background and
        the answer is False (the model page says so instead of waiting)."""
        with self.ctx.db.read() as s:
            return log_ready(s, self.ctx.vote_logs, arena=find_arena(s, arena))

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
        with self.ctx.db.write() as s:
            a = find_arena(s, arena)
            a = lock_arena(s, a.id)
            return rebuild(s, arena=a, now=self.ctx.now())

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
