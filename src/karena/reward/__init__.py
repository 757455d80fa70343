"""ArenaPO: arena capabilities as offline, fine-grained rewards (METHODS §3, a reconstruction).

The optional Diffusion-DPO trainer lives in :mod:`karena.reward.dpo` and needs ``karena[train]``.
"""

from karena.reward.capabilities import Capabilities, fit_capabilities
from karena.reward.export import RewardTable, compute_rewards, read_rewards
from karena.reward.gaps import GapMoments, normalise_gaps, pair_gaps, truncated_gap_moments
from karena.reward.loaders import (
    load_chatbot_arena_counts,
    load_hpd,
    load_pairs,
    load_pickapic,
    pairs_from_votes,
)
from karena.reward.pairs import PairSet

__all__ = [
    "Capabilities",
    "GapMoments",
    "PairSet",
    "RewardTable",
    "compute_rewards",
    "fit_capabilities",
    "load_chatbot_arena_counts",
    "load_hpd",
    "load_pairs",
    "load_pickapic",
    "normalise_gaps",
    "pair_gaps",
    "pairs_from_votes",
    "read_rewards",
    "truncated_gap_moments",
]
