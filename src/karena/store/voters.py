"""Voters: how reliable each voter of an arena is (the admin's view of spam and partisans).

The estimate (:mod:`karena.rating.voters`) is fitted on demand over the arena's counted votes;
its cost grows with them (docs/voters.md gives timings), so ``recent`` limits it to the last
votes. Banning stays with :class:`~karena.store.voting.Voting`.
"""

from __future__ import annotations

from karena.errors import InvalidInput
from karena.store.context import StoreContext
from karena.store.lookups import find_arena, page_bounds
from karena.store.types import VoterReport
from karena.store.voter_reliability import voter_report

__all__ = ["Voters"]


class Voters:
    """Voter reliability: ``store.voters``."""

    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    def reliability(
        self, *, arena: str, limit: int = 50, offset: int = 0, recent: int | None = None
    ) -> VoterReport:
        """The arena's voters, least reliable first: a page of ``limit`` from ``offset``.

        ``recent`` fits only the last ``recent`` counted votes (default: all of them).
        """
        offset, limit = page_bounds(offset, limit)
        if recent is not None and (isinstance(recent, bool) or recent < 1):
            raise InvalidInput(f"recent must be a positive number of votes, got {recent!r}")
        with self.ctx.db.read() as s:
            a = find_arena(s, arena)
            return voter_report(s.connection(), a, limit=limit, offset=offset, recent=recent)
