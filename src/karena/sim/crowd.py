"""Simulated crowds: honest voters, random clickers and adversaries who promote one model.

A :class:`Crowd` is a population of voters of three kinds. :func:`crowd_votes` casts votes
on uniformly random K-subsets of the models, each by a voter drawn uniformly from the crowd:

* an **honest** voter perceives the true strengths through the noise model (as every
  simulated voter of :mod:`karena.sim.engine` does);
* a **random** voter clicks without looking: a uniformly random strict order;
* an **adversarial** voter ranks the ``target`` model first whenever it is shown and the
  others honestly, so outside the target's battles it is indistinguishable from an honest
  voter (the hardest spammer to see).

Votes come out as kernel rank rows of the vocabulary's kinds (:mod:`karena.sim.votes`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput
from karena.rating.types import Vote, VoteKind, outcome_from_rank_row
from karena.sim.noise import LOSS, WIN, GumbelNoise, NoiseModel, pair_index
from karena.sim.votes import batch_votes

__all__ = ["Crowd", "CrowdVotes", "VoterKind", "crowd_votes"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class VoterKind(enum.IntEnum):
    """How a simulated voter behaves."""

    HONEST = 0
    RANDOM = 1
    ADVERSARIAL = 2


@dataclass(frozen=True, slots=True)
class Crowd:
    """``honest + random + adversarial`` voters; adversaries promote model ``target``."""

    honest: int
    random: int = 0
    adversarial: int = 0
    target: int = 0

    def __post_init__(self) -> None:
        counts = (self.honest, self.random, self.adversarial)
        if min(counts) < 0 or sum(counts) < 1:
            raise InvalidInput(f"a crowd needs >= 1 voter and no negative counts, got {counts}")

    @property
    def size(self) -> int:
        return self.honest + self.random + self.adversarial

    def kinds(self) -> npt.NDArray[np.int8]:
        """Each voter's :class:`VoterKind`, voter ids 0..size−1 in this order."""
        return np.repeat(
            np.array([VoterKind.HONEST, VoterKind.RANDOM, VoterKind.ADVERSARIAL], dtype=np.int8),
            [self.honest, self.random, self.adversarial],
        )


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare by identity
class CrowdVotes:
    """``V`` votes: contestants (V, K) as model indices, rank rows (V, K) and voter ids (V,)."""

    battles: IntArray
    ranks: npt.NDArray[np.int32]
    voters: IntArray

    def __len__(self) -> int:
        return int(self.voters.shape[0])

    def votes(self, stop: int | None = None) -> list[Vote]:
        """The first ``stop`` votes (all by default) in the vote vocabulary."""
        end = len(self) if stop is None else stop
        return [
            Vote(tuple(int(m) for m in self.battles[i]), outcome_from_rank_row(self.ranks[i]))
            for i in range(end)
        ]


def crowd_votes(
    strengths: FloatArray,
    crowd: Crowd,
    votes: int,
    rng: np.random.Generator,
    *,
    k: int = 4,
    noise: NoiseModel | None = None,
    mode: VoteKind = VoteKind.RANK,
) -> CrowdVotes:
    """Cast ``votes`` votes of ``crowd`` on uniform random K-subsets of ``len(strengths)`` models.

    ``noise`` is how honest voters perceive quality (default :class:`GumbelNoise`: every
    ranking is Plackett–Luce in ``strengths``).
    """
    n = len(strengths)
    if not 2 <= k <= n or votes < 0:
        raise InvalidInput(f"need 2 <= K <= {n} models and votes >= 0, got K={k}, votes={votes}")
    if not 0 <= crowd.target < n:
        raise InvalidInput(f"target model {crowd.target} is outside 0..{n - 1}")
    perceive = noise if noise is not None else GumbelNoise()
    battles = np.argsort(rng.random((votes, n)), axis=1)[:, :k].astype(np.int64)
    voters = rng.integers(0, crowd.size, votes).astype(np.int64)
    kind = crowd.kinds()[voters]
    codes = perceive.pair_codes(np.asarray(strengths, dtype=np.float64)[battles], rng)
    at_random = kind == VoterKind.RANDOM
    if at_random.any():
        blind = GumbelNoise().pair_codes(np.zeros((int(at_random.sum()), k)), rng)
        codes[at_random] = blind
    adversary = kind == VoterKind.ADVERSARIAL
    if adversary.any():
        pa, pb = pair_index(k)
        is_target = battles == crowd.target
        promote_a = adversary[:, None] & is_target[:, pa]
        promote_b = adversary[:, None] & is_target[:, pb]
        codes = np.where(promote_a, WIN, np.where(promote_b, LOSS, codes)).astype(np.int8)
    ranks = batch_votes(codes, k, mode, rng)
    return CrowdVotes(battles, ranks, voters)
