"""Voter reliability from the stored vote log: the admin report and the batch board's hook."""

from __future__ import annotations

import numpy as np
import pytest

from karena.errors import InvalidInput, NotFound
from karena.rating.batch_board import fit_batch_board
from karena.store import Store
from karena.store.voter_reliability import batch_board_weights, counted_votes
from tests.conftest import seed_arena
from tests.store.helpers import relax, shown_models

MODELS = 8
PUSHED = "model-7"  # the weakest model, which the partisan puts first


def _cast(store: Store, slug: str, voter: str, seed: int, rng: np.random.Generator) -> None:
    battle = store.battles.create_battle(arena=slug, seed=seed)
    shown = shown_models(store, battle.token)
    if voter == "blind":
        ranks = [int(r) for r in rng.permutation(4) + 1]
    else:  # honest: model-0 best … model-7 worst, with a little noise
        quality = [-int(m.split("-")[1]) + rng.gumbel() * 0.5 for m in shown]
        if voter == "partisan" and PUSHED in shown:
            quality[shown.index(PUSHED)] = 99.0
        ranks = [int(r) for r in np.argsort(np.argsort(quality)[::-1]) + 1]
    store.voting.submit_vote(token=battle.token, mode="rank", ranks=ranks, voter_id=voter)


@pytest.fixture
def spammed(store: Store) -> str:
    """8 models; 5 honest voters, one blind clicker and one partisan for the weakest model."""
    relax(store)
    slug = seed_arena(store, slug="spam", n_models=MODELS, n_prompts=2).slug
    rng = np.random.default_rng(0)
    voters = [f"honest-{i}" for i in range(5)] * 6 + ["blind"] * 30 + ["partisan"] * 30
    for seed, voter in enumerate(rng.permutation(voters)):
        _cast(store, slug, str(voter), seed, rng)
    return slug


def test_the_least_reliable_voters_come_first(store: Store, spammed: str) -> None:
    report = store.voters.reliability(arena=spammed, limit=3)
    assert report.voters_total == 7 and report.votes == 90
    first_two = {v.voter_hash for v in report.voters[:2]}
    blind, partisan = store.voting.voter_hash("blind"), store.voting.voter_hash("partisan")
    assert first_two == {blind, partisan}
    by_hash = {v.voter_hash: v for v in report.voters}
    assert by_hash[partisan].suspect == PUSHED and by_hash[partisan].direction == "up"
    assert by_hash[partisan].reliability < 0.3 and by_hash[blind].blind > 0.5
    assert report.voters[2].reliability > 0.5  # then the honest
    assert not any(v.banned for v in report.voters)
    assert report.converged and sum(report.mix) == pytest.approx(1.0)


def test_report_pages_marks_bans_and_fits_recent_votes(store: Store, spammed: str) -> None:
    store.voting.ban_voter(voter_id="blind", discount_past=False)
    everyone = store.voters.reliability(arena=spammed, limit=10)
    assert len(everyone.voters) == 7
    banned = [v for v in everyone.voters if v.banned]
    assert [v.voter_hash for v in banned] == [store.voting.voter_hash("blind")]
    page = store.voters.reliability(arena=spammed, limit=2, offset=2)
    assert [v.voter_hash for v in page.voters] == [v.voter_hash for v in everyone.voters[2:4]]
    assert store.voters.reliability(arena=spammed, recent=10).votes == 10
    with pytest.raises(InvalidInput):
        store.voters.reliability(arena=spammed, recent=0)
    with pytest.raises(InvalidInput):
        store.voters.reliability(arena=spammed, limit=0)
    with pytest.raises(NotFound):
        store.voters.reliability(arena="nope")
    # A voter whose past votes stopped counting drops out of the fit.
    store.voting.ban_voter(voter_id="partisan")
    assert store.voters.reliability(arena=spammed).voters_total == 6


def test_batch_board_hook_is_off_by_default_and_demotes_the_pushed_model(
    store: Store, spammed: str
) -> None:
    """The one call the batch board makes: None while the setting is off; weights when on."""
    arena_id = store.catalog.get_arena(slug=spammed).id
    with store.db.read_conn() as conn:
        votes, hashes = counted_votes(conn, arena_id)
    assert batch_board_weights(store.settings, votes, hashes) is None
    on = store.settings.model_copy(update={"batch_board_weight_voters": True})
    weights = batch_board_weights(on, votes, hashes)
    assert weights is not None and len(weights) == len(votes)
    partisan = store.voting.voter_hash("partisan")
    pushed = store.catalog.get_model(arena=spammed, name=PUSHED).id
    lied = [
        w
        for w, v, h in zip(weights, votes, hashes, strict=True)
        if h == partisan and pushed in v.models
    ]
    assert lied and max(lied) < 0.2

    def place(board_weights: list[float] | None) -> int:
        board = fit_batch_board(votes, weights=board_weights, rounds=2)
        return next(r.rank for r in board.rows if r.model_id == pushed)

    assert place(weights) > place(None)  # weighted, the pushed model sinks towards last
    assert place(weights) == MODELS
    assert batch_board_weights(on, [], []) is None
