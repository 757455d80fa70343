"""Paired mode: a waiting (variant, parent) pair is seated together; everything else unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from karena.errors import ConfigError, InvalidInput
from karena.matchmaking import MatchArrays, MatchState, RandomMatchmaker, make_matchmaker
from karena.matchmaking.paired import PairedMatchmaker
from karena.matchmaking.uncertainty import UncertainWindowMatchmaker
from karena.rating.types import Rating


def _state(n: int = 10, **kwargs: object) -> MatchState:
    ratings = tuple(Rating(25.0 + i, 1.0) for i in range(n))
    return MatchState(ratings, np.zeros((n, n), dtype=np.int64), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("inner", [RandomMatchmaker(), UncertainWindowMatchmaker(order="thompson")])
def test_share_one_seats_the_waiting_pair_in_every_battle(inner: object) -> None:
    mm = PairedMatchmaker(inner, share=1.0)  # type: ignore[arg-type]
    state = _state(paired=((7, 2),))
    rng = np.random.default_rng(0)
    for _ in range(50):
        chosen = mm.select(state, 4, rng)
        assert len(set(chosen)) == 4
        assert {7, 2} <= set(chosen)


def test_no_waiting_pair_or_share_zero_is_the_inner_matchmaker_unchanged() -> None:
    inner = UncertainWindowMatchmaker(order="thompson")
    for mm, state in (
        (PairedMatchmaker(inner, share=1.0), _state()),
        (PairedMatchmaker(inner, share=0.0), _state(paired=((7, 2),))),
    ):
        a = [inner.select(state, 4, np.random.default_rng(s)) for s in range(20)]
        b = [mm.select(state, 4, np.random.default_rng(s)) for s in range(20)]
        assert a == b


def test_the_other_seats_are_the_inner_choice() -> None:
    """The window matchmaker's own picks (its adjacent models) fill the two free seats."""
    inner = UncertainWindowMatchmaker()
    state = _state(paired=((0, 9),))
    for seed in range(10):
        own = inner.select(state, 4, np.random.default_rng(seed))
        chosen = PairedMatchmaker(inner).select(state, 4, np.random.default_rng(seed))
        rest = [m for m in own if m not in (0, 9)][:2]
        assert sorted(chosen[2:]) == sorted(rest)


def test_share_is_a_probability() -> None:
    mm = PairedMatchmaker(RandomMatchmaker(), share=0.3)
    state = _state(n=20, paired=((3, 4),))
    rng = np.random.default_rng(1)
    seated = np.mean([{3, 4} <= set(mm.select(state, 4, rng)) for _ in range(2000)])
    by_chance = 12 / (20 * 19)  # both in a random K=4 set of 20
    assert seated == pytest.approx(0.3 + 0.7 * by_chance, abs=0.04)


def test_disabled_pairs_are_skipped_and_the_least_met_pair_goes_first() -> None:
    counts = np.zeros((10, 10), dtype=np.int64)
    counts[1, 2] = counts[2, 1] = 5
    ratings = tuple(Rating(25.0, 1.0) for _ in range(10))
    state = MatchState(ratings, counts, paired=((1, 2), (3, 4), (5, 6)), disabled=frozenset({6}))
    rng = np.random.default_rng(2)
    for _ in range(30):
        chosen = PairedMatchmaker(RandomMatchmaker()).select(state, 4, rng)
        assert {3, 4} <= set(chosen) and 6 not in chosen


def test_column_zero_stays_idle() -> None:
    mm = PairedMatchmaker(RandomMatchmaker())
    rng = np.random.default_rng(3)
    one_busy = _state(paired=((1, 2),), busy=frozenset({1}))
    both_busy = _state(paired=((1, 2),), busy=frozenset({1, 2}))
    for _ in range(30):
        chosen = mm.select(one_busy, 4, rng)
        assert chosen[0] == 2 and chosen[1] == 1
        chosen = mm.select(both_busy, 4, rng)
        assert chosen[0] not in (1, 2) and {1, 2} <= set(chosen)
        # K = 2 with both busy: no idle seat for a pivot, so the inner choice stands.
        pair = mm.select(both_busy, 2, rng)
        assert pair[0] not in (1, 2)


def test_batches_seat_per_arena() -> None:
    """S arenas at once: rows with a pair seat it, rows padded with −1 do not."""
    s, n = 3, 8
    arrays = MatchArrays(
        np.zeros((s, n)),
        np.ones((s, n)),
        np.zeros((s, n, n), dtype=np.int64),
        np.zeros((s, n), dtype=np.bool_),
        np.zeros((s, n), dtype=np.bool_),
        np.array([[[0, 1]], [[-1, -1]], [[6, 7]]]),
    )
    chosen = PairedMatchmaker(RandomMatchmaker()).select_batch(arrays, 4, np.random.default_rng(0))
    assert {0, 1} <= set(chosen[0].tolist()) and {6, 7} <= set(chosen[2].tolist())


def test_registry_option_and_bad_configuration() -> None:
    mm = make_matchmaker("window-ts", paired=0.5)
    assert isinstance(mm, PairedMatchmaker) and mm.share == 0.5
    assert isinstance(mm.inner, UncertainWindowMatchmaker) and mm.inner.order == "thompson"
    assert not isinstance(make_matchmaker("ucb"), PairedMatchmaker)
    for bad in (1.5, -0.1, float("nan"), "half", True):
        with pytest.raises(ConfigError, match="paired"):
            make_matchmaker("random", paired=bad)
    with pytest.raises(InvalidInput):
        PairedMatchmaker(PairedMatchmaker(RandomMatchmaker()))
    with pytest.raises(InvalidInput, match="paired models"):
        _state(paired=((1, 1),))
    with pytest.raises(InvalidInput, match="paired models"):
        _state(paired=((1, 10),))
