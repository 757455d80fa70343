"""Batched vote recording: one transaction per batch, per-vote outcomes, exact ratings."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from karena.errors import Forbidden
from karena.rating.types import parse_outcome
from karena.store import Store
from karena.store.models import Arena, Battle, BattleSlot, VoteRow
from karena.store.recording import NewVote
from karena.store.vote_writer import ClaimLost
from tests.conftest import SeededArena


def _new_vote(store: Store, token: str, voter: str, ranks: list[int]) -> tuple[int, NewVote]:
    """(arena id, vote) for the battle ``token``, as the request thread would hand it over."""
    with store.db.read() as s:
        battle = s.scalar(select(Battle).where(Battle.token == token))
        assert battle is not None
        models = s.scalars(
            select(BattleSlot.model_id)
            .where(BattleSlot.battle_id == battle.id)
            .order_by(BattleSlot.position)
        ).all()
        vote = NewVote(
            battle_id=battle.id,
            model_ids=tuple(models),
            outcome=parse_outcome("rank", k=len(models), ranks=ranks),
            voter_hash=store.voting.voter_hash(voter),
        )
        return battle.arena_id, vote


def _ratings(store: Store, arena: str) -> dict[str, tuple[float, float, int]]:
    return {r.model_name: (r.mu, r.sigma, r.votes) for r in store.boards.leaderboard(arena=arena)}


def test_one_batch_records_some_votes_and_refuses_others(store: Store, seeded: SeededArena) -> None:
    battles = [store.battles.create_battle(arena=seeded.slug) for _ in range(3)]
    store.voting.ban_voter(voter_id="banned")
    arena_id, first = _new_vote(store, battles[0].token, "alice", [1, 2, 3, 4])
    _, again = _new_vote(store, battles[0].token, "bob", [4, 3, 2, 1])
    _, refused = _new_vote(store, battles[1].token, "banned", [1, 1, 3, 4])
    _, last = _new_vote(store, battles[2].token, "carol", [2, 1, 4, 3])

    outcomes = store._context.vote_writer.write_batch(arena_id, [first, again, refused, last])

    assert isinstance(outcomes[0], VoteRow) and outcomes[0].seq == 1
    assert isinstance(outcomes[1], ClaimLost)  # the same battle twice: only the first counts
    assert isinstance(outcomes[2], Forbidden)
    assert isinstance(outcomes[3], VoteRow) and outcomes[3].seq == 2
    # Each vote's reveal starts where the previous vote of the batch left its models.
    after_first = {
        m: (rv[2], rv[3]) for m, rv in zip(first.model_ids, outcomes[0].reveal, strict=True)
    }
    for m, rv in zip(last.model_ids, outcomes[3].reveal, strict=True):
        if m in after_first:
            assert (rv[0], rv[1]) == after_first[m]
    # The refused vote's battle is open again, and the batch's votes replay exactly.
    store.settings.min_vote_seconds = 0
    result = store.voting.submit_vote(token=battles[1].token, mode="tie", voter_id="dave")
    assert result.seq == 3
    live = _ratings(store, seeded.slug)
    store.boards.recompute(arena=seeded.slug)
    assert _ratings(store, seeded.slug) == live
    with store.db.read() as s:
        assert s.scalar(select(Arena.vote_seq).where(Arena.id == arena_id)) == 3


def test_concurrent_voters_in_one_worker_share_batches_and_lose_nothing(
    store: Store, seeded: SeededArena
) -> None:
    store.settings.min_vote_seconds = 0
    store.settings.rate_limit_per_minute = 0
    battles = [store.battles.create_battle(arena=seeded.slug) for _ in range(40)]

    def vote(i: int) -> int:
        ranks = [1 + (i + j) % 4 for j in range(4)]
        return store.voting.submit_vote(
            token=battles[i].token, mode="rank", ranks=ranks, voter_id=f"v{i}"
        ).seq

    with ThreadPoolExecutor(max_workers=12) as pool:
        seqs = sorted(pool.map(vote, range(len(battles))))
    assert seqs == list(range(1, len(battles) + 1))
    live = _ratings(store, seeded.slug)
    store.boards.recompute(arena=seeded.slug)
    assert _ratings(store, seeded.slug) == live
