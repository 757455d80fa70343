"""``karena recompute`` does not cry wolf (issue 13, finding 11, R-RECOMPUTE-11).

It used to read the live ratings outside the arena lock, recompute, and read them again: a vote
recorded in between showed up as drift. Now both reads happen in the rebuild's transaction,
under the lock; while threads vote, every reported change is exactly 0.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from karena.store import Store
from tests.conftest import seed_arena
from tests.store.helpers import relax

VOTERS = 4
VOTES_EACH = 12


def test_r_recompute_11_no_drift_reported_while_votes_land(store: Store) -> None:
    relax(store)
    seed_arena(store, n_models=6)
    cast: list[int] = []

    def vote(worker: int) -> None:
        for i in range(VOTES_EACH):
            battle = store.battles.create_battle(arena="img")
            ranks = [1 + (i + j + worker) % 4 for j in range(4)]
            store.voting.submit_vote(
                token=battle.token, mode="rank", ranks=ranks, voter_id=f"voter-{worker}"
            )
            cast.append(1)

    reports = []
    with ThreadPoolExecutor(VOTERS) as pool:
        futures = [pool.submit(vote, w) for w in range(VOTERS)]
        while not all(f.done() for f in futures) or not reports:
            reports.append(store.boards.recompute_report(arena="img"))
        for f in futures:
            f.result()
    reports.append(store.boards.recompute_report(arena="img"))
    assert len(cast) == VOTERS * VOTES_EACH
    assert reports[-1].votes == VOTERS * VOTES_EACH
    assert len(reports) >= 2
    assert [r.largest_change for r in reports] == [0.0] * len(reports)


def test_recompute_report_sees_real_drift(store: Store) -> None:
    """A live rating edited behind the store's back is reported (the check can fail)."""
    from sqlalchemy import text

    relax(store)
    seed_arena(store, n_models=4)
    battle = store.battles.create_battle(arena="img")
    store.voting.submit_vote(token=battle.token, mode="rank", ranks=[1, 2, 3, 4], voter_id="v")
    with store.db.write_conn() as conn:
        conn.execute(text("UPDATE ratings SET mu = mu + 0.5"))
    report = store.boards.recompute_report(arena="img")
    assert report.votes == 1
    assert abs(report.largest_change - 0.5) < 1e-9
