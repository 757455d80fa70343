"""Matchmakers: the pivot rule, exclusions, the UCB exploration term, determinism and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from karena.errors import ConfigError, InvalidInput
from karena.matchmaking import (
    MatchState,
    RandomMatchmaker,
    SkillOnlyMatchmaker,
    UCBMatchmaker,
    UncertainWindowMatchmaker,
    make_matchmaker,
)
from karena.matchmaking.ucb import exploration_bonus
from karena.rating.types import Rating

ALL = [UCBMatchmaker(), SkillOnlyMatchmaker(), RandomMatchmaker(), UncertainWindowMatchmaker()]


def _state(
    mus: list[float],
    sigmas: list[float] | None = None,
    counts: np.ndarray | None = None,
    busy: frozenset[int] = frozenset(),
    disabled: frozenset[int] = frozenset(),
) -> MatchState:
    n = len(mus)
    sig = sigmas if sigmas is not None else [1.0] * n
    pc = counts if counts is not None else np.zeros((n, n), dtype=np.int64)
    return MatchState(
        tuple(Rating(m, s) for m, s in zip(mus, sig, strict=True)), pc, busy, disabled
    )


def _symmetric(n: int, pairs: dict[tuple[int, int], int]) -> np.ndarray:
    c = np.zeros((n, n), dtype=np.int64)
    for (i, j), v in pairs.items():
        c[i, j] = c[j, i] = v
    return c


def test_pivot_is_the_least_compared_model() -> None:
    counts = _symmetric(5, {(0, 1): 3, (0, 2): 2, (1, 2): 2, (2, 3): 1, (3, 4): 1, (1, 4): 1})
    # Totals: 0→5, 1→6, 2→5, 3→2, 4→2; 3 and 4 tie for least.
    pivots = {
        UCBMatchmaker().select(_state([0.0] * 5, counts=counts), 2, np.random.default_rng(s))[0]
        for s in range(40)
    }
    assert pivots == {3, 4}


def test_pivot_skips_busy_and_disabled_models() -> None:
    counts = _symmetric(5, {(0, 1): 5, (1, 2): 5, (2, 3): 1})
    # 4 has 0 comparisons but is busy; 3 has 1 but is disabled; next least is 0 (5) vs 2 (6).
    state = _state([0.0] * 5, counts=counts, busy=frozenset({4}), disabled=frozenset({3}))
    for seed in range(20):
        chosen = UCBMatchmaker().select(state, 3, np.random.default_rng(seed))
        assert chosen[0] == 0
        assert 3 not in chosen


@pytest.mark.parametrize("mm", ALL, ids=lambda m: m.name)
def test_disabled_models_never_chosen_and_choices_distinct(mm: object) -> None:
    rng = np.random.default_rng(7)
    state = _state(list(rng.normal(25, 5, 12)), disabled=frozenset({0, 5, 11}), busy=frozenset({2}))
    for _ in range(30):
        chosen = mm.select(state, 4, rng)  # type: ignore[attr-defined]
        assert len(set(chosen)) == 4
        assert not set(chosen) & {0, 5, 11}
        assert chosen[0] != 2  # the pivot slot is idle


@pytest.mark.parametrize("mm", ALL, ids=lambda m: m.name)
def test_same_rng_state_gives_same_choice(mm: object) -> None:
    state = _state([25.0, 20.0, 30.0, 22.0, 27.0, 18.0], sigmas=[2.0, 1.0, 3.0, 1.5, 0.5, 4.0])
    a = [mm.select(state, 3, np.random.default_rng(42)) for _ in range(3)]  # type: ignore[attr-defined]
    assert a[0] == a[1] == a[2]


@pytest.mark.parametrize("mm", ALL, ids=lambda m: m.name)
def test_too_few_models_is_an_error(mm: object) -> None:
    state = _state([1.0, 2.0, 3.0, 4.0], disabled=frozenset({0, 1}))
    with pytest.raises(InvalidInput, match="at least K=3"):
        mm.select(state, 3, np.random.default_rng(0))  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="no pivot"):
        mm.select(_state([1.0, 2.0, 3.0], busy=frozenset({0, 1, 2})), 2, np.random.default_rng(0))  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput):
        mm.select(state, 1, np.random.default_rng(0))  # type: ignore[attr-defined]


def test_exploration_bonus_paper_and_deployment() -> None:
    n_total = np.array([100.0, 100.0, 1.0, 0.0])
    n_pair = np.array([4.0, 1.0, 1.0, 3.0])
    paper = exploration_bonus(n_total, n_pair, 1.0, "paper")
    deployed = exploration_bonus(n_total, n_pair, 1.0, "deployment")
    assert paper[0] == pytest.approx(math.sqrt(math.log(100) / 4))
    assert paper[1] == pytest.approx(math.sqrt(math.log(100)))
    assert deployed[0] == pytest.approx(math.sqrt(2 * math.log(100) / 4))
    assert paper[2] == 0.0 and paper[3] == 0.0  # n ≤ 1: ln n ≤ 0, no exploration yet
    assert exploration_bonus(n_total, n_pair, 2.5, "paper")[0] == pytest.approx(2.5 * paper[0])


def test_ucb_prefers_unmet_then_close_skill() -> None:
    # Pivot 0 (fewest comparisons) has met 1 and 2 often; 3 and 4 never. 4 is closer in S.
    counts = _symmetric(
        6, {(0, 1): 1, (0, 2): 1, (1, 2): 9, (1, 5): 9, (2, 5): 9, (3, 5): 9, (4, 5): 9, (3, 4): 9}
    )
    state = _state([25.0, 25.0, 25.1, 10.0, 24.0, 50.0], sigmas=[0.0] * 6, counts=counts)
    chosen = UCBMatchmaker().select(state, 3, np.random.default_rng(0))
    assert chosen[0] == 0
    assert chosen[1:] == (4, 3)  # both unmet; 4 is closer in skill than 3


def test_ucb_exploration_can_beat_skill_gap() -> None:
    # Pivot 0 has met 1 (S equal) 50 times and 2 (S differs by 1) once.
    counts = _symmetric(3, {(0, 1): 50, (0, 2): 1, (1, 2): 200})
    state = _state([25.0, 25.0, 24.0], sigmas=[0.0] * 3, counts=counts)
    rng = np.random.default_rng(0)
    assert UCBMatchmaker(alpha=0.0).select(state, 2, rng) == (0, 1)
    # n = 251, bonus to 2 = √(ln 251) ≈ 2.35 > 1 + √(ln 251 / 50) ≈ 1.33.
    assert UCBMatchmaker(alpha=1.0).select(state, 2, rng) == (0, 2)
    ucb = UCBMatchmaker(alpha=1.0, variant="deployment")
    pivot = np.array([0])
    scores = ucb.opponent_scores(state.to_arrays(), pivot)[0]
    assert scores[2] == pytest.approx(-1.0 + math.sqrt(2 * math.log(251)))


def test_skill_only_ignores_meeting_counts() -> None:
    counts = _symmetric(4, {(0, 1): 100, (2, 3): 200, (1, 2): 200, (1, 3): 200})
    state = _state([25.0, 25.0, 10.0, 40.0], sigmas=[0.0] * 4, counts=counts)
    assert SkillOnlyMatchmaker().select(state, 2, np.random.default_rng(0)) == (0, 1)


def test_window_picks_the_uncertain_adjacent_block() -> None:
    # Models 0..7; 2, 3, 4, 5 are close together and uncertain, the rest far apart and certain.
    mus = [100.0, 80.0, 50.0, 50.2, 49.9, 50.1, 20.0, 0.0]
    sigmas = [0.1, 0.1, 1.0, 1.0, 1.0, 1.0, 0.1, 0.1]
    state = _state(mus, sigmas)
    chosen = UncertainWindowMatchmaker(order="mean").select(state, 4, np.random.default_rng(0))
    assert set(chosen) == {2, 3, 4, 5}


def test_registry_builds_and_rejects() -> None:
    assert isinstance(make_matchmaker("ucb", alpha=2.0), UCBMatchmaker)
    assert make_matchmaker("ucb", alpha=2.0).alpha == 2.0  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="unknown matchmaker"):
        make_matchmaker("nope")
    with pytest.raises(ConfigError, match="bad parameters"):
        make_matchmaker("random", alpha=1.0)
    with pytest.raises(InvalidInput):
        make_matchmaker("ucb", alpha=-1.0)
    with pytest.raises(InvalidInput):
        make_matchmaker("window", explore=-0.1)
    with pytest.raises(InvalidInput):
        make_matchmaker("window", order="best")


def test_window_prefers_pairs_that_never_met() -> None:
    # Two equally uncertain blocks; the block whose pairs already met often loses to the fresh one.
    mus = [10.0, 10.1, 10.2, 10.3, 0.0, 0.1, 0.2, 0.3]
    met = {(i, j): 50 for i in range(4) for j in range(i + 1, 4)}
    state = _state(mus, [1.0] * 8, counts=_symmetric(8, met))
    chosen = UncertainWindowMatchmaker(order="mean", explore=0.3).select(
        state, 4, np.random.default_rng(1)
    )
    assert set(chosen) == {4, 5, 6, 7}
    chosen = UncertainWindowMatchmaker(order="mean", explore=0.0).select(
        state, 4, np.random.default_rng(1)
    )
    assert set(chosen) in ({0, 1, 2, 3}, {4, 5, 6, 7})
