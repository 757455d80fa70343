"""Boards: the leaderboard, the exact rebuild, model pages and what the judge and rewards read.

Judge placements (``karena eval --place``) live here too: written in their own table, joined into
the leaderboard read, never into votes or ratings.

The batch board (the order-independent Plackett–Luce fit, overall and per prompt category) is
read here and refitted here, on demand or by the web app's background refresher; the claim,
the fit and the stored rows are :mod:`karena.store.batch_boards`.

The rating arithmetic (rebuild, leaderboard rows) is :mod:`karena.store.ratings`; this service
opens the transactions around it and shapes its answers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session

from karena.errors import NotFound
from karena.rating.leaderboard import JudgePlacement, LeaderboardRow, with_movement
from karena.store import reads
from karena.store.batch_boards import (
    OVERALL,
    FitBoards,
    board_rows,
    board_votes,
    claim_arena,
    fit_boards,
    is_due,
    release_arena,
    save_boards,
)
from karena.store.context import StoreContext
from karena.store.families import arena_beta, model_family
from karena.store.history import earlier_ratings, log_ready, model_history
from karena.store.lookups import find_arena, find_model, lock_arena, page_bounds
from karena.store.models import (
    Arena,
    BatchBoardRow,
    JudgePlacementRow,
    Model,
    Prompt,
    RatingRow,
)
from karena.store.ratings import (
    StoredRating,
    leaderboard_rows,
    load_placements,
    load_ratings,
    model_for_arena,
    rebuild,
    save_placement,
)
from karena.store.types import (
    BatchBoardView,
    BatchRefresh,
    ModelHistory,
    ModelPage,
    PairVote,
    Recomputed,
    ReferenceBattle,
)

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

    def batch_board(self, *, arena: str, category: str = OVERALL) -> BatchBoardView:
        """The stored batch board of ``arena`` (``category`` ``""``: overall), best first.

        Raises NotFound for a category no prompt of the arena has. Until the first fit the view
        has no rows and ``fitted_at`` None; the background refresher or
        :meth:`refresh_batch_board` fits it.
        """
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            categories = tuple(
                sorted(
                    c
                    for c in s.scalars(
                        select(Prompt.category).where(Prompt.arena_id == a.id).distinct()
                    )
                    if c
                )
            )
            if category and category not in categories:
                known = ", ".join(categories) if categories else "none yet"
                raise NotFound(
                    f"arena {a.slug!r} has no prompts in category {category!r} "
                    f"(its categories: {known})"
                )
            overall = s.get(BatchBoardRow, (a.id, OVERALL))
            row = overall if category == OVERALL else s.get(BatchBoardRow, (a.id, category))
            models = s.execute(
                select(Model.id, Model.name, Model.organization, Model.link, Model.enabled).where(
                    Model.arena_id == a.id
                )
            ).all()
            names = {m.id: m.name for m in models}
            catalog = {m.id: (m.organization, m.link, m.enabled) for m in models}
            # A category with no counted votes at the last fit has no row: the overall fit
            # stands for when it was looked at.
            stamp = row if row is not None else overall
            fitted_at = stamp.fitted_at if stamp is not None else None
            stale = self.ctx.now() - timedelta(seconds=self.ctx.settings.batch_board_claim_seconds)
            return BatchBoardView(
                arena_slug=a.slug,
                category=category,
                rows=board_rows(row.rows, names, catalog, fitted_at) if row is not None else (),
                votes=row.votes if row is not None else 0,
                votes_since=a.vote_seq - (stamp.vote_seq if stamp is not None and fitted_at else 0),
                rounds=row.rounds if row is not None else 0,
                weighted=bool(row.weighted) if row is not None else False,
                fitted_at=fitted_at,
                fit_seconds=row.seconds if row is not None else 0.0,
                fitting=overall is not None
                and overall.fitting_since is not None
                and overall.fitting_since >= stale,
                categories=categories,
            )

    def refresh_batch_board(
        self, *, arena: str, force: bool = True, fit: FitBoards = fit_boards
    ) -> BatchRefresh:
        """Refit ``arena``'s batch boards (overall and per category) from its counted votes.

        ``force=False`` fits only when due (the refresher's throttle: ``batch_board_*``
        settings). Either way the arena is claimed first, so two workers never fit it at
        once: the loser returns ``fitted=False``. The votes are read in one short read, fitted
        with no transaction or lock held, and the rows written in one short write. ``fit`` runs
        the fit (:func:`~karena.store.batch_boards.fit_boards` here, in this thread; the web
        app's refresher passes one that runs it in a child process).
        """
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            board = s.get(BatchBoardRow, (a.id, OVERALL))
            due = is_due(
                self.ctx.settings,
                vote_seq=a.vote_seq,
                board_seq=board.vote_seq if board is not None else None,
                fitted_at=board.fitted_at if board is not None else None,
                now=self.ctx.now(),
            )
            arena_id, slug = a.id, a.slug
        if not force and not due:
            return BatchRefresh(slug, False, "not due")
        return self._refit(arena_id, slug, fit)

    def refresh_due_batch_boards(self, *, fit: FitBoards = fit_boards) -> tuple[BatchRefresh, ...]:
        """Refit every arena whose batch board is due (what the background refresher calls)."""
        now = self.ctx.now()
        with self.ctx.db.read() as s:
            arenas = s.execute(
                select(
                    Arena.id, Arena.slug, Arena.vote_seq, BatchBoardRow.vote_seq,
                    BatchBoardRow.fitted_at,
                )
                .outerjoin(
                    BatchBoardRow,
                    and_(BatchBoardRow.arena_id == Arena.id, BatchBoardRow.category == OVERALL),
                )
                .order_by(Arena.id)
            ).all()  # fmt: skip
        settings = self.ctx.settings
        return tuple(
            self._refit(arena_id, slug, fit)
            for arena_id, slug, seq, board_seq, fitted_at in arenas
            if is_due(settings, vote_seq=seq, board_seq=board_seq, fitted_at=fitted_at, now=now)
        )

    def _refit(self, arena_id: int, slug: str, fit: FitBoards) -> BatchRefresh:
        now = self.ctx.now()
        stale = now - timedelta(seconds=self.ctx.settings.batch_board_claim_seconds)
        with self.ctx.db.write_conn() as conn:
            if not claim_arena(conn, arena_id, now=now, stale_before=stale):
                return BatchRefresh(slug, False, "another worker is fitting it")
        try:
            started = time.perf_counter()
            with self.ctx.db.read() as session:  # one snapshot: the seq and its votes
                conn = session.connection()
                seq = int(conn.scalar(select(Arena.vote_seq).where(Arena.id == arena_id)) or 0)
                votes, hashes, categories = board_votes(conn, arena_id)
                models = list(
                    conn.scalars(
                        select(Model.id).where(Model.arena_id == arena_id).order_by(Model.id)
                    )
                )
            boards = fit(self.ctx.settings, votes, hashes, categories, models=models)
            seconds = time.perf_counter() - started
            with self.ctx.db.write_conn() as conn:
                save_boards(
                    conn,
                    arena_id,
                    boards,
                    vote_seq=seq,
                    weighted=self.ctx.settings.batch_board_weight_voters,
                    seconds=seconds,
                    now=self.ctx.now(),
                )
        except BaseException:
            with self.ctx.db.write_conn() as conn:
                release_arena(conn, arena_id)
            raise
        return BatchRefresh(
            slug,
            True,
            "fitted",
            votes=len(votes),
            boards=len(boards),
            categories=tuple(c for c in boards if c != OVERALL),
            seconds=seconds,
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
