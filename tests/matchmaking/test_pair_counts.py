"""PairCounts (dense and sparse), RatingArrays and MatchState at scale: same numbers, same picks."""

from __future__ import annotations

import dataclasses
import tracemalloc

import numpy as np
import pytest

from karena.errors import InvalidInput
from karena.matchmaking import MATCHMAKERS, MatchArrays, MatchState, make_matchmaker
from karena.matchmaking.base import RatingArrays
from karena.matchmaking.pairs import DensePairCounts, PairCounts, SparsePairCounts
from karena.matchmaking.uncertainty import _stable_order
from karena.rating.types import Rating


def _symmetric_counts(rng: np.random.Generator, s: int, n: int, meetings: int) -> np.ndarray:
    m = np.zeros((s, n, n), dtype=np.int64)
    if n < 2:
        return m
    arena = rng.integers(0, s, meetings)
    a, b = rng.integers(0, n, meetings), rng.integers(0, n, meetings)
    np.add.at(m, (arena, a, b), 1)
    np.add.at(m, (arena, b, a), 1)
    m[:, np.arange(n), np.arange(n)] = 0
    return m


def _random_state(seed: int, sparse: bool) -> MatchState:
    g = np.random.default_rng(seed)
    n = int(g.integers(4, 80))
    mu = g.normal(25.0, 5.0, n)
    if seed % 3 == 0:
        mu[: n // 2] = 25.0  # exact ties, as at the prior
    sigma = g.uniform(0.0, 8.0, n)
    counts = _symmetric_counts(g, 1, n, int(g.integers(0, n * (n if seed % 2 else 4))))[0]
    busy = frozenset(g.choice(n, int(g.integers(0, n // 3 + 1)), replace=False).tolist())
    disabled = frozenset(g.choice(n, int(g.integers(0, n // 3 + 1)), replace=False).tolist())
    if sparse:
        return MatchState(
            RatingArrays(mu, sigma), SparsePairCounts.from_dense(counts), busy, disabled
        )
    ratings = tuple(Rating(float(m), float(s)) for m, s in zip(mu, sigma, strict=True))
    return MatchState(ratings, counts, busy, disabled)


@pytest.mark.parametrize(("s", "n"), [(1, 0), (1, 1), (1, 2), (1, 9), (3, 7), (4, 40)])
def test_sparse_and_dense_counts_agree(s: int, n: int) -> None:
    rng = np.random.default_rng(s * 100 + n)
    matrix = _symmetric_counts(rng, s, n, 6 * n)
    dense, sparse = DensePairCounts(matrix), SparsePairCounts.from_dense(matrix)
    assert dense.shape == sparse.shape == (s, n)
    np.testing.assert_array_equal(sparse.to_dense(), matrix)
    np.testing.assert_array_equal(dense.totals, matrix.sum(axis=2))
    np.testing.assert_array_equal(sparse.totals, dense.totals)
    np.testing.assert_array_equal(sparse.total, matrix.sum(axis=(1, 2)) // 2)
    np.testing.assert_array_equal(dense.total, sparse.total)
    if n == 0:
        return
    pivot = rng.integers(0, n, s)
    np.testing.assert_array_equal(sparse.row(pivot), dense.row(pivot))
    np.testing.assert_array_equal(dense.row(pivot), matrix[np.arange(s), pivot])
    a, b = rng.integers(0, n, (s, 300)), rng.integers(0, n, (s, 300))
    expected = np.where(a == b, 0, matrix[np.arange(s)[:, None], a, b])
    np.testing.assert_array_equal(sparse.lookup(a, b), expected)
    np.testing.assert_array_equal(dense.lookup(a, b), expected)


def test_dense_counts_ignore_the_diagonal() -> None:
    m = np.array([[7, 2, 0], [2, 7, 1], [0, 1, 7]])
    dense = DensePairCounts(m)
    np.testing.assert_array_equal(dense.totals, [[2, 3, 1]])
    np.testing.assert_array_equal(dense.total, [3])
    np.testing.assert_array_equal(dense.row(np.array([1])), [[2, 0, 1]])
    np.testing.assert_array_equal(dense.lookup(np.array([[0, 1]]), np.array([[0, 2]])), [[0, 1]])
    np.testing.assert_array_equal(SparsePairCounts.from_dense(m).to_dense(), dense.to_dense())


def test_from_pairs_normalises_merges_and_drops() -> None:
    # Either order, a repeated pair (summed), a self-pair and a zero count (both dropped).
    counts = SparsePairCounts.from_pairs(
        4, a=[0, 2, 1, 3, 3, 1], b=[1, 0, 0, 3, 2, 2], counts=[2, 5, 3, 9, 1, 0]
    )
    expected = np.zeros((4, 4), dtype=np.int64)
    for i, j, c in [(0, 1, 5), (0, 2, 5), (2, 3, 1)]:
        expected[i, j] = expected[j, i] = c
    np.testing.assert_array_equal(counts.to_dense()[0], expected)
    assert counts.pairs == 3
    np.testing.assert_array_equal(counts.totals, [[10, 5, 6, 1]])
    np.testing.assert_array_equal(counts.total, [11])


def test_from_pairs_several_arenas() -> None:
    counts = SparsePairCounts.from_pairs(
        3, a=[0, 0, 1], b=[1, 1, 2], counts=[1, 4, 2], arenas=2, arena=[0, 1, 1]
    )
    np.testing.assert_array_equal(counts.totals, [[1, 1, 0], [4, 6, 2]])
    np.testing.assert_array_equal(counts.total, [1, 6])
    np.testing.assert_array_equal(
        counts.lookup(np.array([[0], [0]]), np.array([[1], [1]])), [[1], [4]]
    )
    np.testing.assert_array_equal(counts.row(np.array([1, 1])), [[1, 0, 0], [4, 0, 2]])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 3, "a": [0, 3], "b": [1, 1], "counts": [1, 1]},
        {"n": 3, "a": [-1], "b": [1], "counts": [1]},
        {"n": 3, "a": [0], "b": [1], "counts": [-2]},
        {"n": 3, "a": [0, 1], "b": [1], "counts": [1]},
        {"n": 3, "a": [0], "b": [1], "counts": [1], "arenas": 1, "arena": [1]},
    ],
)
def test_from_pairs_rejects_bad_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        SparsePairCounts.from_pairs(**kwargs)  # type: ignore[arg-type]


def test_lookup_rejects_bad_shapes() -> None:
    counts = SparsePairCounts.from_pairs(3, [0], [1], [1])
    with pytest.raises(InvalidInput):
        counts.lookup(np.array([0, 1]), np.array([1, 2]))
    with pytest.raises(InvalidInput):
        DensePairCounts(np.zeros((2, 3)))


def test_sparse_counts_are_read_only_and_small() -> None:
    n = 50_000
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, n, 2000), rng.integers(0, n, 2000)
    counts = SparsePairCounts.from_pairs(n, a, b, np.ones(2000, dtype=np.int64))
    # O(pairs + n): a dense matrix would be 20 GB.
    assert counts.nbytes < 1_000_000
    with pytest.raises(ValueError):
        counts.totals[0, 0] = 5
    assert isinstance(counts, PairCounts)


def test_sparse_lookup_with_long_buckets() -> None:
    # Many keys: some buckets hold several; every stored pair is found, absent ones are 0.
    n = 3000
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, n, 40_000), rng.integers(0, n, 40_000)
    c = rng.integers(1, 9, 40_000)
    counts = SparsePairCounts.from_pairs(n, a, b, c)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    key, inverse = np.unique(lo[keep] * n + hi[keep], return_inverse=True)
    summed = np.bincount(inverse, weights=c[keep]).astype(np.int64)
    got = counts.lookup((key // n)[None, :], (key % n)[None, :])[0]
    np.testing.assert_array_equal(got, summed)
    got_reversed = counts.lookup((key % n)[None, :], (key // n)[None, :])[0]
    np.testing.assert_array_equal(got_reversed, summed)
    absent = rng.integers(0, n, (1, 5000))
    others = rng.integers(0, n, (1, 5000))
    probe = np.minimum(absent, others) * n + np.maximum(absent, others)
    missing = ~np.isin(probe, key) | (absent == others)
    assert (counts.lookup(absent, others)[missing] == 0).all()


@pytest.mark.parametrize("name", sorted(MATCHMAKERS))
def test_sparse_and_dense_states_give_identical_picks(name: str) -> None:
    mm = make_matchmaker(name)
    for seed in range(40):
        dense, sparse = _random_state(seed, sparse=False), _random_state(seed, sparse=True)
        for k in (2, 3, 4, 5):
            if dense.n_available < k:
                continue
            a = [mm.select(dense, k, np.random.default_rng(seed * 7 + k)) for _ in range(2)]
            b = [mm.select(sparse, k, np.random.default_rng(seed * 7 + k)) for _ in range(2)]
            assert a == b, (seed, k)


@pytest.mark.parametrize("name", sorted(MATCHMAKERS))
def test_batched_sparse_and_dense_arrays_give_identical_picks(name: str) -> None:
    rng = np.random.default_rng(3)
    s, n = 6, 30
    matrix = _symmetric_counts(rng, s, n, 500)
    mu, sigma = rng.normal(25, 3, (s, n)), rng.uniform(0.5, 5, (s, n))
    busy, disabled = rng.random((s, n)) < 0.1, rng.random((s, n)) < 0.1
    dense = MatchArrays(mu, sigma, DensePairCounts(matrix), busy, disabled)
    sparse = MatchArrays(mu, sigma, SparsePairCounts.from_dense(matrix), busy, disabled)
    mm = make_matchmaker(name)
    for seed in range(10):
        np.testing.assert_array_equal(
            mm.select_batch(dense, 4, np.random.default_rng(seed)),
            mm.select_batch(sparse, 4, np.random.default_rng(seed)),
        )


def _golden_state(seed: int) -> MatchState:
    g = np.random.default_rng(seed)
    n = int(g.integers(6, 40))
    mu = np.round(g.normal(25, 5, n), 3)
    mu[: n // 4] = 25.0
    sig = np.round(g.uniform(0.5, 8, n), 3)
    c = np.zeros((n, n), np.int64)
    m = int(g.integers(0, 3 * n if seed % 2 else 2 * n * n))
    a = g.integers(0, n, m)
    b = g.integers(0, n, m)
    np.add.at(c, (a, b), 1)
    np.add.at(c, (b, a), 1)
    np.fill_diagonal(c, 0)
    busy = frozenset(int(x) for x in g.choice(n, n // 5, replace=False))
    dis = frozenset(int(x) for x in g.choice(n, n // 6, replace=False))
    return MatchState(RatingArrays(mu, sig), SparsePairCounts.from_dense(c), busy, dis)


#: Picks of the dense O(n²) matchmakers before the PairCounts redesign (commit a579cda), K = 4.
GOLDEN = {
    (0, "random"): (33, 21, 12, 5),
    (0, "skill"): (7, 21, 5, 25),
    (0, "ucb"): (7, 28, 2, 3),
    (0, "window"): (7, 3, 5, 6),
    (0, "window-ts"): (13, 5, 14, 8),
    (1, "random"): (1, 18, 7, 10),
    (1, "skill"): (8, 13, 5, 20),
    (1, "ucb"): (8, 13, 5, 20),
    (1, "window"): (2, 0, 1, 3),
    (1, "window-ts"): (15, 3, 6, 9),
    (2, "random"): (16, 23, 26, 24),
    (2, "skill"): (11, 16, 6, 8),
    (2, "ucb"): (11, 16, 6, 8),
    (2, "window"): (13, 21, 33, 20),
    (2, "window-ts"): (4, 10, 17, 1),
    (3, "random"): (19, 22, 27, 11),
    (3, "skill"): (27, 26, 5, 10),
    (3, "ucb"): (27, 26, 5, 10),
    (3, "window"): (0, 1, 2, 3),
    (3, "window-ts"): (30, 27, 26, 14),
    (4, "random"): (24, 12, 23, 6),
    (4, "skill"): (9, 15, 6, 24),
    (4, "ucb"): (9, 15, 16, 6),
    (4, "window"): (6, 3, 4, 5),
    (4, "window-ts"): (20, 26, 18, 19),
    (5, "random"): (21, 24, 6, 11),
    (5, "skill"): (21, 9, 19, 13),
    (5, "ucb"): (21, 9, 19, 13),
    (5, "window"): (3, 4, 5, 6),
    (5, "window-ts"): (1, 3, 5, 6),
    (6, "random"): (15, 12, 20, 3),
    (6, "skill"): (0, 11, 9, 3),
    (6, "ucb"): (0, 1, 2, 15),
    (6, "window"): (0, 9, 1, 2),
    (6, "window-ts"): (7, 4, 17, 13),
    (7, "random"): (9, 0, 28, 30),
    (7, "skill"): (26, 31, 2, 8),
    (7, "ucb"): (26, 31, 2, 8),
    (7, "window"): (4, 2, 3, 5),
    (7, "window-ts"): (23, 5, 13, 2),
}


@pytest.mark.parametrize(("seed", "name"), sorted(GOLDEN))
def test_picks_match_the_dense_implementation_before_the_redesign(seed: int, name: str) -> None:
    picked = make_matchmaker(name).select(
        _golden_state(seed), 4, np.random.default_rng(1000 + seed)
    )
    assert picked == GOLDEN[(seed, name)]


def test_stable_order_equals_a_stable_argsort_on_finite_keys() -> None:
    rng = np.random.default_rng(0)
    for trial in range(500):
        s, n = int(rng.integers(1, 4)), int(rng.integers(1, 60))
        key = rng.integers(0, int(rng.integers(1, 10)), (s, n)).astype(np.float64)
        key[rng.random((s, n)) < 0.2] = np.inf
        if trial % 2:
            key += rng.random((s, n))
        got, stable = _stable_order(key), np.argsort(key, axis=1, kind="stable")
        for row in range(s):
            # The same order up to the +inf keys (disabled models), which may come in any order.
            finite = int(np.isfinite(key[row]).sum())
            np.testing.assert_array_equal(got[row, :finite], stable[row, :finite])
            assert sorted(got[row, finite:]) == sorted(stable[row, finite:])


def test_rating_arrays_behave_as_a_sequence_of_ratings() -> None:
    ratings = RatingArrays([25.0, 20.0, 30.0], [1.0, 2.0, 0.0])
    as_tuple = (Rating(25.0, 1.0), Rating(20.0, 2.0), Rating(30.0, 0.0))
    assert len(ratings) == 3
    assert ratings[1] == Rating(20.0, 2.0)
    assert ratings[-1] == Rating(30.0, 0.0)
    assert tuple(ratings) == as_tuple
    assert ratings == as_tuple and as_tuple == ratings
    assert ratings == RatingArrays([25.0, 20.0, 30.0], [1.0, 2.0, 0.0])
    assert ratings != RatingArrays([25.0, 20.0, 30.5], [1.0, 2.0, 0.0])
    assert ratings[1:] == as_tuple[1:]
    with pytest.raises(ValueError):
        ratings.mu[0] = 1.0
    for bad in (([1.0], [-1.0]), ([np.nan], [1.0]), ([1.0, 2.0], [1.0]), ([[1.0]], [[1.0]])):
        with pytest.raises(InvalidInput):
            RatingArrays(*bad)


def test_match_state_masks_and_views() -> None:
    counts = SparsePairCounts.from_pairs(5, [0, 1], [1, 2], [3, 1])
    state = MatchState(
        RatingArrays(np.arange(5.0), np.ones(5)), counts, frozenset({1}), frozenset({0, 4})
    )
    assert state.n == 5 and state.n_available == 3 and state.available() == [1, 2, 3]
    np.testing.assert_array_equal(state.busy_mask, [False, True, False, False, False])
    np.testing.assert_array_equal(state.disabled_mask, [True, False, False, False, True])
    arrays = state.to_arrays()
    assert arrays.shape == (1, 5) and arrays.pair_counts is counts
    relaxed = dataclasses.replace(state, busy=frozenset())
    assert relaxed.mu is state.mu  # no per-model work to derive a restricted state
    assert not relaxed.busy_mask.any()
    legacy = MatchState(
        tuple(state.ratings), counts.to_dense()[0], frozenset({1}), frozenset({0, 4})
    )
    np.testing.assert_array_equal(legacy.mu, state.mu)
    assert isinstance(legacy.pair_counts, DensePairCounts)


@pytest.mark.parametrize(
    ("busy", "disabled", "counts", "match"),
    [
        (frozenset({5}), frozenset(), None, "busy model index 5"),
        (frozenset(), frozenset({-1}), None, "disabled model index -1"),
        (frozenset(), frozenset(), np.zeros((4, 4), np.int64), "pair_counts must be 3x3"),
        (frozenset(), frozenset(), SparsePairCounts.from_pairs(4, [], [], []), "1 arena of 3"),
    ],
)
def test_match_state_rejects_inconsistent_input(
    busy: frozenset[int], disabled: frozenset[int], counts: object, match: str
) -> None:
    pc = counts if counts is not None else np.zeros((3, 3), np.int64)
    with pytest.raises(InvalidInput, match=match):
        MatchState(RatingArrays([1.0, 2.0, 3.0], [1.0] * 3), pc, busy, disabled)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(MATCHMAKERS))
def test_a_pick_at_scale_does_no_quadratic_work(name: str) -> None:
    """At 20,000 models a pick allocates O(n) (a dense matrix alone would be 3.2 GB)."""
    n = 20_000
    rng = np.random.default_rng(1)
    a = np.repeat(np.arange(n), 20)
    b = rng.integers(0, n, a.size)
    state = MatchState(
        RatingArrays(rng.normal(25, 5, n), rng.uniform(0.5, 8, n)),
        SparsePairCounts.from_pairs(n, a, b, np.ones(a.size, dtype=np.int64)),
        frozenset(range(10)),
        frozenset(range(10, 30)),
    )
    mm = make_matchmaker(name)
    mm.select(state, 4, rng)
    tracemalloc.start()
    try:
        chosen = mm.select(state, 4, rng)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(set(chosen)) == 4 and not set(chosen) & set(range(10, 30))
    assert peak < 40 * n * 8  # a few dozen n-vectors at most
