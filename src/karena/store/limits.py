"""Limits on what costs the server: new battles, exports and live generations: ``store.limits``.

Votes take their limits where they are recorded (the vote writer); everything else a client can
ask for repeatedly takes an event here first, in a short transaction of its own, from the same
database counters (:mod:`karena.store.rate_limits`): so each limit holds under concurrent
requests and across worker processes. A refusal raises RateLimited (429 with Retry-After) and
takes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from karena.store.context import StoreContext
from karena.store.rate_limits import (
    Allowance,
    battle_allowances,
    export_allowances,
    live_allowances,
)

__all__ = ["Limits"]


class Limits:
    """Rate limits and budgets outside the vote path: ``store.limits``."""

    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    def open_battle(self, *, voter_id: str, address_id: str | None = None) -> None:
        """Take one new battle from the voter's and the address's per-minute allowance."""
        address = self._address(address_id)
        self.take(battle_allowances(self.ctx.settings, self.ctx.voter_hash(voter_id), address))

    def export(self, *, address_id: str) -> None:
        """Take one vote-log export from the address's hourly allowance."""
        self.take(export_allowances(self.ctx.settings, self.ctx.address_hash(address_id)))

    def live_generation(self, *, voter_id: str | None, address_id: str | None = None) -> None:
        """Take one typed prompt that needs new outputs from the voter's, the address's and the
        arena's hourly budgets (the cost guard of live generation)."""
        voter = self.ctx.voter_hash(voter_id) if voter_id is not None else None
        self.take(live_allowances(self.ctx.settings, voter, self._address(address_id)))

    def take(self, allowances: Sequence[Allowance]) -> None:
        """Take one event from each allowance, or none (raising the first limit's RateLimited)."""
        live = [a for a in allowances if a.limit > 0]
        if not live:
            return
        counters, now = self.ctx.rate_counters, self.ctx.now()
        if self.ctx.db.is_postgres and len({a.window_s for a in live}) == 1:
            # One statement on an autocommit connection: the path of every new battle.
            with self.ctx.db.autocommit_conn() as conn:
                refused = counters.take_one_autocommit(conn, live, now)
            if refused is not None:
                raise refused
            return
        with self.ctx.db.write_conn() as conn:
            refused = counters.take_one(conn, live, now)
            if refused is not None:
                raise refused  # rolls the transaction back: the increments are undone

    def _address(self, address_id: str | None) -> str | None:
        return self.ctx.address_hash(address_id) if address_id is not None else None
