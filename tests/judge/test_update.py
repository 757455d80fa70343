"""The new model's (K+1)-wise update with the K existing models held fixed."""

from __future__ import annotations

import pytest

from karena.judge.update import update_new_model
from karena.rating.models.thurstone import ThurstoneK
from karena.rating.types import Ranking, Rating

BOARD = [Rating(20, 0.8), Rating(22, 0.8), Rating(24, 0.8), Rating(26, 0.8)]
NEW = Rating(25.0, 25.0 / 3.0)


def test_sequential_update_is_k_pairwise_thurstone_updates_in_judge_order() -> None:
    model = ThurstoneK()
    ranks = (1, 2, 4, 5, 3)  # new output third: beat models 2 and 3, lost to 0 and 1
    expected = NEW
    for idx, pair in ((0, (1, 2)), (1, (1, 2)), (2, (2, 1)), (3, (2, 1))):
        expected = model.update([BOARD[idx], expected], Ranking(pair))[1]
    assert update_new_model(model, BOARD, NEW, ranks) == expected


@pytest.mark.parametrize(
    ("ranks", "direction"), [((2, 3, 4, 5, 1), 1), ((1, 2, 3, 4, 5), -1), ((1, 2, 4, 5, 3), 0)]
)
def test_sequential_update_moves_mu_the_right_way_without_collapsing(
    ranks: tuple[int, ...], direction: int
) -> None:
    new = update_new_model(ThurstoneK(), BOARD, NEW, ranks)
    if direction:
        assert (new.mu - NEW.mu) * direction > 2.0
    assert 2.0 < new.sigma < NEW.sigma


def test_joint_update_collapses_sigma_for_a_fresh_model() -> None:
    """Pins why ``sequential`` is the default: Eqs. 7–10 applied jointly overshoot."""
    paper = ThurstoneK(weighting="paper")
    joint = update_new_model(paper, BOARD, NEW, (2, 3, 4, 5, 1), kind="joint")
    assert joint.sigma < 0.1 and joint.mu > 40


def test_existing_models_are_untouched_and_ties_are_handled() -> None:
    model = ThurstoneK()
    tied = update_new_model(model, BOARD, Rating(23.0, 3.0), (1, 2, 3, 4, 3))
    assert tied.sigma < 3.0
    with pytest.raises(Exception, match="expected 5 ranks"):
        update_new_model(model, BOARD, NEW, (1, 2, 3, 4))


def test_calibrated_joint_update_no_longer_collapses_sigma() -> None:
    """Pins the tie fix's effect on the judge: the calibrated form's joint step keeps σ."""
    joint = update_new_model(ThurstoneK(), BOARD, NEW, (2, 3, 4, 5, 1), kind="joint")
    assert 4.0 < joint.sigma < NEW.sigma and 30.0 < joint.mu < 35.0
    # It is the rating model's own update (its one home), not a copy: the same numbers.
    direct = ThurstoneK().update([*BOARD, NEW], Ranking((2, 3, 4, 5, 1)))[-1]
    assert joint == direct


def test_sequential_update_is_the_same_in_both_weightings() -> None:
    """With K = 2 the calibrated and the paper form are the same exact one-pair update."""
    paper = ThurstoneK(weighting="paper", gamma="paper")
    for ranks in ((1, 2, 4, 5, 3), (2, 3, 4, 5, 1), (5, 4, 3, 2, 1)):
        a = update_new_model(ThurstoneK(), BOARD, NEW, ranks)
        b = update_new_model(paper, BOARD, NEW, ranks)
        assert a.mu == pytest.approx(b.mu, rel=1e-12) and a.sigma == pytest.approx(b.sigma)
