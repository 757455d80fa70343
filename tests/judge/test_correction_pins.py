"""Pins of the posterior correction that the mutation run found loose (issue 18)."""

from __future__ import annotations

import math

import pytest

from karena.errors import InvalidInput
from karena.judge.correction import (
    DEFAULT_KAPPA,
    _average_ranks,
    correct,
    correction_weights,
    spearman,
    trust,
    variance_weight,
)
from karena.rating.types import Rating


def test_input_errors_say_what_is_wrong() -> None:
    with pytest.raises(InvalidInput, match=r"^spearman needs equal lengths, got 2 and 3$"):
        spearman([1, 2], [1, 2, 3])
    with pytest.raises(InvalidInput, match=r"^spearman needs at least two items$"):
        spearman([1], [1])
    with pytest.raises(InvalidInput, match=r"^rho must be finite, got nan$"):
        trust(math.nan)
    with pytest.raises(InvalidInput, match=r"^rho must be finite, got inf$"):
        trust(math.inf)
    for bad in (-0.01, 1.01):
        with pytest.raises(InvalidInput, match=rf"^lambda must be in \[0, 1\], got {bad}$"):
            variance_weight(bad)


def test_two_items_are_enough_for_spearman() -> None:
    assert spearman([1, 2], [10, 20]) == 1.0
    assert spearman([1, 2], [20, 10]) == -1.0
    assert spearman([3, 3], [1, 2]) == 0.0
    assert spearman([1, 2], [4, 4]) == 0.0


def test_average_ranks_share_ties() -> None:
    assert _average_ranks([5.0, 1.0, 5.0, 3.0]) == [3.5, 1.0, 3.5, 2.0]
    assert _average_ranks([2.0, 2.0, 2.0]) == [2.0, 2.0, 2.0]
    assert _average_ranks([1.0, 1.0, 0.0]) == [2.5, 2.5, 1.0]
    assert _average_ranks([]) == []


def test_spearman_known_values() -> None:
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8, abs=1e-15)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # Ties: scipy.stats.spearmanr([1, 1, 2, 3], [1, 2, 3, 4]) = 0.9486832980505138.
    assert spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486832980505138, abs=1e-15)


def test_trust_is_exact_on_both_branches() -> None:
    assert DEFAULT_KAPPA == 5.0
    for rho in (-0.7, -0.1, 0.0, 0.1, 0.7):
        assert trust(rho) == pytest.approx(1.0 / (1.0 + math.exp(-5.0 * rho)), rel=1e-15, abs=0)
    assert trust(-0.5, kappa=1.0) == pytest.approx(1.0 / (1.0 + math.exp(0.5)), rel=1e-15, abs=0)
    assert trust(0.3, kappa=0.0) == 0.5


def test_correction_weights_and_record() -> None:
    lam, w = correction_weights(0.2, kappa=3.0)
    assert lam == trust(0.2, 3.0) and w == variance_weight(lam)
    prior, updated = Rating(20.0, 6.0), Rating(28.0, 2.0)
    c = correct(prior, updated, rho=0.2, kappa=3.0)
    assert (c.rho, c.lam, c.w) == (0.2, lam, w)
    assert c.rating.mu == pytest.approx(lam * 28.0 + (1 - lam) * 20.0, rel=1e-15, abs=0)
    assert c.rating.sigma == pytest.approx(math.sqrt(w * 4.0 + (1 - w) * 36.0), rel=1e-15, abs=0)
    # A perfect judge moves the rating all the way; a useless one (ρ = 0) half way.
    assert correct(prior, updated, rho=0.0).rating.mu == 24.0


def test_a_correction_is_a_frozen_record() -> None:
    import dataclasses

    c = correct(Rating(25.0, 8.0), Rating(30.0, 4.0), rho=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.rho = 0.9  # type: ignore[misc]
