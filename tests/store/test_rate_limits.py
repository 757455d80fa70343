"""The database rate counters (R-LIMIT-3): sliding windows, atomic under threads, migration 0009."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text

from karena.errors import Forbidden, RateLimited
from karena.store.api import Store
from karena.store.rate_limits import Allowance, RateCounters
from tests.conftest import SeededArena, TestClock
from tests.store.helpers import downgrade


def _take(store: Store, counters: RateCounters, *allowances: Allowance) -> RateLimited | None:
    with store.db.write_conn() as conn:
        (out,) = counters.take(conn, [allowances], store.clock())
    return out


def test_window_slides_and_refusals_take_nothing(store: Store, clock: TestClock) -> None:
    counters = RateCounters()
    three = Allowance("t:a", 3, 60, "three a minute")
    assert [_take(store, counters, three) is None for _ in range(5)] == [True] * 3 + [False] * 2
    refused = _take(store, counters, three)
    assert refused is not None and refused.message == "three a minute"
    assert isinstance(refused.detail, dict) and 1 <= refused.detail["retry_after"] <= 70
    clock.advance(30)
    assert _take(store, counters, three) is not None  # still inside the window
    clock.advance(41)  # 71 s after the three: every slot that held them has left the window
    assert [_take(store, counters, three) is None for _ in range(4)] == [True] * 3 + [False]


def test_a_request_takes_all_of_its_limits_or_none(store: Store) -> None:
    counters = RateCounters()
    wide, narrow = Allowance("t:wide", 10, 60, "wide"), Allowance("t:narrow", 1, 60, "narrow")
    assert _take(store, counters, wide, narrow) is None
    refused = _take(store, counters, wide, narrow)
    assert refused is not None and refused.message == "narrow"
    with store.db.read_conn() as conn:
        assert counters.peek(conn, [Allowance("t:wide", 2, 60, "")], store.clock()) is None
        assert counters.peek(conn, [Allowance("t:wide", 1, 60, "")], store.clock()) is not None


def test_threads_racing_one_limit_get_exactly_the_limit(store: Store) -> None:
    """R-LIMIT-3: 24 threads, each with its own transaction, race for a limit of 7."""
    counters = RateCounters()
    limit = Allowance("t:race", 7, 60, "raced")
    barrier = threading.Barrier(24)

    def one(_: int) -> bool:
        barrier.wait(timeout=30)
        return _take(store, counters, limit) is None

    with ThreadPoolExecutor(max_workers=24) as pool:
        granted = list(pool.map(one, range(24)))
    assert granted.count(True) == 7


def test_a_vote_over_its_limit_leaves_its_battle_open(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    """A refused vote stores nothing and takes nothing; the battle takes a vote later."""
    store.settings = store.settings.model_copy(update={"rate_limit_per_minute": 1})
    first, second = (store.battles.create_battle(arena=seeded.slug, seed=s) for s in (1, 2))
    clock.advance(3)
    store.voting.submit_vote(token=first.token, mode="tie", voter_id="v")
    with pytest.raises(RateLimited) as refused:
        store.voting.submit_vote(token=second.token, mode="tie", voter_id="v")
    assert isinstance(refused.value.detail, dict) and refused.value.detail["retry_after"] >= 1
    assert store.voting.list_votes(arena=seeded.slug).total == 1
    clock.advance(71)
    assert store.voting.submit_vote(token=second.token, mode="tie", voter_id="v").seq == 2


def test_a_ban_covers_the_addresses_the_voter_voted_from(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    """R-BAN-8 in the store: a new voter id from the banned voter's address is refused."""
    battles = [store.battles.create_battle(arena=seeded.slug, seed=10 + i) for i in range(4)]
    clock.advance(3)
    store.voting.submit_vote(
        token=battles[0].token, mode="tie", voter_id="troll", address_id="10.0.0.9"
    )
    store.voting.ban_voter(voter_id="troll")
    assert store.voting.is_banned(voter_id="fresh", address_id="10.0.0.9")
    with pytest.raises(Forbidden):
        store.voting.submit_vote(
            token=battles[1].token, mode="tie", voter_id="fresh", address_id="10.0.0.9"
        )
    store.voting.submit_vote(
        token=battles[2].token, mode="tie", voter_id="other", address_id="10.0.0.10"
    )
    store.voting.unban_voter(voter_id="troll")
    assert not store.voting.is_banned(voter_id="fresh", address_id="10.0.0.9")
    store.voting.submit_vote(
        token=battles[1].token, mode="tie", voter_id="fresh", address_id="10.0.0.9"
    )
    store.voting.ban_voter(voter_id="troll", ban_addresses=False)
    assert not store.voting.is_banned(voter_id="fresh", address_id="10.0.0.9")


def test_migration_0009_down_and_up(store: Store, clock: TestClock) -> None:
    counters = RateCounters()
    assert _take(store, counters, Allowance("t:m", 1, 60, "")) is None
    downgrade(store, "0006")
    with store.db.read_conn() as conn:
        tables = set(inspect(conn).get_table_names())
    assert "rate_counters" not in tables and "banned_addresses" not in tables
    store.db.migrate()
    with store.db.read_conn() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM rate_counters")).scalar_one() == 0
    assert _take(store, counters, Allowance("t:m", 1, 60, "")) is None


def test_expired_counters_are_deleted(store: Store, clock: TestClock) -> None:
    counters = RateCounters()
    for i in range(5):
        assert _take(store, counters, Allowance(f"t:old{i}", 5, 60, "")) is None
    clock.advance(timedelta(hours=1).total_seconds())
    counters._pruned_at = float("-inf")  # as if a minute of wall time had passed
    assert _take(store, counters, Allowance("t:new", 5, 60, "")) is None
    with store.db.read_conn() as conn:
        buckets = set(conn.execute(text("SELECT bucket FROM rate_counters")).scalars())
    assert buckets == {"t:new"}


def test_threads_racing_new_battles_get_exactly_the_limit(store: Store) -> None:
    """R-LIMIT-6: the one-request path (``store.limits``): 20 threads, a limit of 4 battles a
    minute per voter (rate limit 1 x 4); refusals undo their optimistic increment."""
    store.settings = store.settings.model_copy(
        update={"rate_limit_per_minute": 1, "rate_limit_per_address_per_minute": 100}
    )
    barrier = threading.Barrier(20)

    def one(_: int) -> bool:
        barrier.wait(timeout=30)
        try:
            store.limits.open_battle(voter_id="racer", address_id="10.1.1.1")
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=20) as pool:
        granted = list(pool.map(one, range(20)))
    assert granted.count(True) == 4
    with store.db.read_conn() as conn:
        counts = dict(
            conn.execute(text("SELECT bucket, SUM(count) FROM rate_counters GROUP BY bucket")).all()
        )
    assert sorted(counts.values()) == [4, 4]  # the voter's and the address's: refusals left none


def test_a_batch_is_decided_in_order_and_refusals_are_given_back(store: Store) -> None:
    """The vote writer's path: one call for a batch; the refused requests leave no count."""
    counters = RateCounters()
    voter = Allowance("t:batch-voter", 3, 60, "voter")
    address = Allowance("t:batch-address", 10, 60, "address")
    with store.db.write_conn() as conn:
        outcomes = counters.take(conn, [(voter, address)] * 5, store.clock())
    assert [o is None for o in outcomes] == [True, True, True, False, False]
    with store.db.read_conn() as conn:
        counts = dict(
            conn.execute(
                text("SELECT bucket, count FROM rate_counters WHERE bucket LIKE 't:b%'")
            ).all()
        )
    assert counts == {"t:batch-voter": 3, "t:batch-address": 3}
