"""Votes: validation, idempotency, conflicts, expiry, abuse controls and exact recompute."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from karena.errors import Conflict, Expired, Forbidden, InvalidVote, NotFound, RateLimited
from karena.store import Store
from tests.conftest import SeededArena, TestClock


def _ratings(store: Store, arena: str) -> dict[str, tuple[float, float, int]]:
    return {r.model_name: (r.mu, r.sigma, r.votes) for r in store.boards.leaderboard(arena=arena)}


def _vote(store: Store, clock: TestClock, arena: str, seed: int, **kwargs: object) -> object:
    battle = store.battles.create_battle(arena=arena, seed=seed)
    clock.advance(5)
    return store.voting.submit_vote(token=battle.token, voter_id=f"voter-{seed % 7}", **kwargs)


def test_recompute_equals_incremental_bit_for_bit(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    modes: list[dict[str, object]] = [
        {"mode": "rank", "ranks": [1, 2, 3, 4]},
        {"mode": "rank", "ranks": [2, 1, 1, 4]},
        {"mode": "rank", "ranks": [4, 3, 2, 1]},
        {"mode": "best", "winner": 2},
        {"mode": "tie"},
        {"mode": "all_bad"},
    ]
    for i in range(60):
        _vote(store, clock, seeded.slug, i, **modes[i % len(modes)])
        clock.advance(10)  # stay under the per-voter rate limit
    incremental = _ratings(store, seeded.slug)
    assert store.boards.recompute(arena=seeded.slug) == 60
    rebuilt = _ratings(store, seeded.slug)
    assert rebuilt == incremental  # exact float equality, not approx
    assert sum(v for _, _, v in rebuilt.values()) == 60 * 4
    # A second rebuild is a fixed point.
    store.boards.recompute(arena=seeded.slug)
    assert _ratings(store, seeded.slug) == incremental


def test_vote_reveals_models_and_rating_changes(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    battle = store.battles.create_battle(arena=seeded.slug, seed=1)
    clock.advance(3)
    result = store.voting.submit_vote(
        token=battle.token, mode="rank", ranks=[1, 2, 3, 4], voter_id="a"
    )
    assert result.seq == 1 and result.counted and not result.replayed
    assert [c.label for c in result.contestants] == ["A", "B", "C", "D"]
    assert {c.model_name for c in result.contestants} <= set(seeded.models)
    best, worst = result.contestants[0], result.contestants[3]
    assert best.delta_mu > 0 > worst.delta_mu
    assert all(c.sigma_after < c.sigma_before for c in result.contestants)
    board = {r.model_name: r for r in store.boards.leaderboard(arena=seeded.slug)}
    assert board[best.model_name].mu == best.mu_after
    assert store.battles.get_battle(token=battle.token).state == "voted"


def test_same_submission_twice_is_idempotent(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    battle = store.battles.create_battle(arena=seeded.slug, seed=2)
    clock.advance(3)
    first = store.voting.submit_vote(
        token=battle.token, mode="rank", ranks=[2, 1, 3, 3], voter_id="a"
    )
    ratings = _ratings(store, seeded.slug)
    again = store.voting.submit_vote(
        token=battle.token, mode="rank", ranks=[2, 1, 3, 3], voter_id="a"
    )
    assert again.replayed and again.seq == first.seq
    assert again.contestants == first.contestants
    assert _ratings(store, seeded.slug) == ratings
    assert store.voting.list_votes(arena=seeded.slug).total == 1
    # Equivalent non-dense ranks are the same ranking.
    same = store.voting.submit_vote(
        token=battle.token, mode="rank", ranks=[2, 1, 4, 4], voter_id="a"
    )
    assert same.replayed


def test_different_ranking_for_a_voted_battle_is_a_conflict(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    battle = store.battles.create_battle(arena=seeded.slug, seed=3)
    clock.advance(3)
    store.voting.submit_vote(token=battle.token, mode="rank", ranks=[1, 2, 3, 4], voter_id="a")
    with pytest.raises(Conflict):
        store.voting.submit_vote(token=battle.token, mode="rank", ranks=[4, 3, 2, 1], voter_id="a")
    with pytest.raises(Conflict):
        store.voting.submit_vote(token=battle.token, mode="best", winner=0, voter_id="b")
    votes = store.voting.list_votes(arena=seeded.slug)
    assert votes.total == 1 and votes.items[0].ranks == (1, 2, 3, 4)


def test_expired_and_unknown_battles(store: Store, seeded: SeededArena, clock: TestClock) -> None:
    battle = store.battles.create_battle(arena=seeded.slug, seed=4)
    clock.advance(store.settings.battle_ttl_seconds + 1)
    with pytest.raises(Expired) as exc:
        store.voting.submit_vote(token=battle.token, mode="tie", voter_id="a")
    assert exc.value.status_code == 410
    with pytest.raises(NotFound) as missing:
        store.voting.submit_vote(token="no-such-token", mode="tie", voter_id="a")
    assert missing.value.status_code == 404
    assert store.voting.list_votes(arena=seeded.slug).total == 0


MALFORMED: list[dict[str, object]] = [
    {"mode": "rank", "ranks": [1, 2, 3]},  # wrong length
    {"mode": "rank", "ranks": [1, 2, 3, 4, 5]},
    {"mode": "rank", "ranks": [0, 1, 2, 3]},  # out of range
    {"mode": "rank", "ranks": [-1, 2, 3, 4]},
    {"mode": "rank", "ranks": [1, 2, 3, 9]},
    {"mode": "rank", "ranks": [math.nan, 2, 3, 4]},
    {"mode": "rank", "ranks": [1.5, 2, 3, 4]},
    {"mode": "rank", "ranks": [True, 2, 3, 4]},
    {"mode": "rank", "ranks": ["1", "2", "3", "4"]},
    {"mode": "rank", "ranks": "1234"},
    {"mode": "rank", "ranks": None},
    {"mode": "rank", "ranks": [1, 2, 3, 4], "winner": 0},
    {"mode": "best", "winner": 4},  # unknown position
    {"mode": "best", "winner": -1},
    {"mode": "best", "winner": None},
    {"mode": "best", "winner": math.inf},
    {"mode": "best", "winner": 1, "ranks": [1, 2, 3, 4]},
    {"mode": "tie", "winner": 1},
    {"mode": "sideways"},
    {"mode": None},
]


def test_malformed_rankings_store_nothing(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    battle = store.battles.create_battle(arena=seeded.slug, seed=5)
    clock.advance(3)
    before = _ratings(store, seeded.slug)
    for payload in MALFORMED:
        with pytest.raises(InvalidVote) as exc:
            store.voting.submit_vote(token=battle.token, voter_id="a", **payload)  # type: ignore[arg-type]
        assert exc.value.status_code == 422 and exc.value.message, payload
        assert store.voting.list_votes(arena=seeded.slug).total == 0, payload
        assert _ratings(store, seeded.slug) == before, payload
        assert store.catalog.get_arena(slug=seeded.slug).vote_count == 0, payload
    # The battle is still open for a well-formed vote.
    ok = store.voting.submit_vote(token=battle.token, mode="tie", voter_id="a")
    assert ok.seq == 1


def test_bot_guard_rejects_fast_votes_then_accepts(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    battle = store.battles.create_battle(arena=seeded.slug, seed=6)
    clock.advance(store.settings.min_vote_seconds / 2)
    with pytest.raises(RateLimited) as exc:
        store.voting.submit_vote(token=battle.token, mode="tie", voter_id="bot")
    assert exc.value.status_code == 429
    assert store.voting.list_votes(arena=seeded.slug).total == 0
    clock.advance(store.settings.min_vote_seconds)
    assert store.voting.submit_vote(token=battle.token, mode="tie", voter_id="bot").seq == 1


def test_rate_limit_counts_votes_per_voter_in_the_database(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    store.settings = store.settings.model_copy(update={"rate_limit_per_minute": 3})
    battles = [store.battles.create_battle(arena=seeded.slug, seed=10 + i) for i in range(5)]
    clock.advance(3)
    for b in battles[:3]:
        store.voting.submit_vote(token=b.token, mode="tie", voter_id="hammer")
    with pytest.raises(RateLimited):
        store.voting.submit_vote(token=battles[3].token, mode="tie", voter_id="hammer")
    with pytest.raises(RateLimited):
        store.voting.check_rate_limit(voter_id="hammer")
    store.voting.check_rate_limit(voter_id="someone-else")
    store.voting.submit_vote(token=battles[3].token, mode="tie", voter_id="someone-else")
    clock.advance(61)
    store.voting.submit_vote(token=battles[4].token, mode="tie", voter_id="hammer")
    assert store.voting.list_votes(arena=seeded.slug).total == 5


def test_banned_voter_does_not_count(store: Store, seeded: SeededArena, clock: TestClock) -> None:
    for i in range(4):
        _vote(store, clock, seeded.slug, 100 + i, mode="rank", ranks=[1, 2, 3, 4])
    clean = store.battles.create_battle(arena=seeded.slug, seed=200)
    clock.advance(3)
    store.voting.submit_vote(token=clean.token, mode="rank", ranks=[4, 3, 2, 1], voter_id="honest")
    spam = [store.battles.create_battle(arena=seeded.slug, seed=300 + i) for i in range(3)]
    clock.advance(3)
    for b in spam[:2]:
        store.voting.submit_vote(token=b.token, mode="rank", ranks=[1, 2, 3, 4], voter_id="spammer")
    assert store.voting.ban_voter(voter_id="spammer", reason="test") == 2
    assert store.voting.is_banned(voter_id="spammer")
    with pytest.raises(Forbidden):
        store.voting.submit_vote(token=spam[2].token, mode="tie", voter_id="spammer")
    counted = [v for v in store.voting.iter_votes(arena=seeded.slug) if v.counted]
    assert len(counted) == 5 and all(
        v.voter_hash != store.voting.voter_hash("spammer") for v in counted
    )
    assert store.voting.list_votes(arena=seeded.slug).total == 7  # stored, not counted
    board = _ratings(store, seeded.slug)
    assert sum(v for _, _, v in board.values()) == 5 * 4
    store.boards.recompute(arena=seeded.slug)
    assert _ratings(store, seeded.slug) == board


@hyp_settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ranks=st.lists(st.integers(min_value=1, max_value=4), min_size=4, max_size=4),
    repeats=st.integers(min_value=2, max_value=4),
)
def test_property_a_repeated_submission_is_stored_once(
    store: Store, seeded: SeededArena, clock: TestClock, ranks: list[int], repeats: int
) -> None:
    before = store.voting.list_votes(arena=seeded.slug).total
    battle = store.battles.create_battle(arena=seeded.slug)
    clock.advance(61)  # past the bot guard and the rate-limit window
    results = [
        store.voting.submit_vote(token=battle.token, mode="rank", ranks=ranks, voter_id="p")
        for _ in range(repeats)
    ]
    assert store.voting.list_votes(arena=seeded.slug).total == before + 1
    assert len({r.seq for r in results}) == 1
    assert [r.replayed for r in results] == [False] + [True] * (repeats - 1)


def test_sequence_numbers_are_gap_free_per_arena(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    from tests.conftest import seed_arena

    other = seed_arena(store, slug="other", n_models=4, n_prompts=1)
    for i in range(6):
        _vote(store, clock, seeded.slug if i % 2 else other.slug, i, mode="tie")
        clock.advance(10)
    for slug in (seeded.slug, other.slug):
        assert [v.seq for v in store.voting.iter_votes(arena=slug)] == [1, 2, 3]


def test_per_address_limit_holds_whatever_voter_id_is_sent(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    """Regression (R-ABUSE-2): fresh voter ids from one address are still rate-limited."""
    store.settings = store.settings.model_copy(
        update={"rate_limit_per_minute": 100, "rate_limit_per_address_per_minute": 3}
    )
    battles = [store.battles.create_battle(arena=seeded.slug, seed=400 + i) for i in range(5)]
    clock.advance(3)
    for i, b in enumerate(battles[:3]):
        store.voting.submit_vote(
            token=b.token, mode="tie", voter_id=f"fresh-{i}", address_id="10.0.0.7"
        )
    with pytest.raises(RateLimited, match="address"):
        store.voting.submit_vote(
            token=battles[3].token, mode="tie", voter_id="fresh-9", address_id="10.0.0.7"
        )
    with pytest.raises(RateLimited):
        store.voting.check_rate_limit(voter_id="anyone", address_id="10.0.0.7")
    store.voting.submit_vote(
        token=battles[3].token, mode="tie", voter_id="x", address_id="10.0.0.8"
    )
    assert store.voting.list_votes(arena=seeded.slug).total == 4
