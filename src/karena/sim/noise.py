"""Noise models: how a simulated voter turns true strengths into pairwise verdicts.

Every model maps the (S, K) true strengths of one battle per arena to (S, C(K,2)) pair codes
for the pairs (a, b), a < b, of :func:`pair_index`:

* ``WIN`` (1): a preferred, ``LOSS`` (−1): b preferred, ``TIE`` (0), ``BOTH_BAD`` (2, a tie).

A K-wise vote is built from those pair codes by :mod:`karena.sim.votes`.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from karena.errors import InvalidInput, NotFound

__all__ = [
    "BOTH_BAD",
    "LOSS",
    "TIE",
    "WIN",
    "FlipNoise",
    "GumbelNoise",
    "JudgeNoise",
    "NoiseModel",
    "ThurstonianNoise",
    "judge_confusion",
    "pair_index",
]

WIN, LOSS, TIE, BOTH_BAD = 1, -1, 0, 2

FloatArray = npt.NDArray[np.float64]
CodeArray = npt.NDArray[np.int8]
IntArray = npt.NDArray[np.int64]


def pair_index(k: int) -> tuple[IntArray, IntArray]:
    """Positions (a, b), a < b, of the C(k, 2) pairs of a K-wise battle, in position order."""
    a, b = np.triu_indices(k, 1)
    return a.astype(np.int64), b.astype(np.int64)


class NoiseModel(Protocol):
    """Maps true strengths of the contestants to noisy pairwise verdicts."""

    @property
    def name(self) -> str:
        """Short label for tables."""
        ...

    def pair_codes(self, strengths: FloatArray, rng: np.random.Generator) -> CodeArray:
        """(S, K) strengths → (S, C(K,2)) pair codes."""
        ...


def _codes_from_performance(perf: FloatArray, margin: float = 0.0) -> CodeArray:
    """WIN/LOSS when a pair's performances differ by more than ``margin``, else TIE."""
    pa, pb = pair_index(perf.shape[1])
    diff = perf[:, pa] - perf[:, pb]
    return np.where(diff > margin, WIN, np.where(diff < -margin, LOSS, TIE)).astype(np.int8)


@dataclass(frozen=True, slots=True)
class FlipNoise:
    """The paper's noise (K-Sort Arena §4): the truth decides each pair, then each pairwise
    verdict is flipped independently with probability ``p``. Equal strengths tie."""

    p: float = 0.0
    name: str = "flip"

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise InvalidInput(f"flip probability must be in [0, 1], got {self.p!r}")

    def pair_codes(self, strengths: FloatArray, rng: np.random.Generator) -> CodeArray:
        codes = _codes_from_performance(strengths)
        if self.p > 0.0:
            flip = rng.random(codes.shape) < self.p
            codes = np.where(flip, -codes, codes).astype(np.int8)
        return codes


@dataclass(frozen=True, slots=True)
class ThurstonianNoise:
    """Thurstone's case V: each output's perceived quality is N(strength, β²) (METHODS §1.1).

    One draw per contestant per battle, so a strict K-wise ranking is transitive. With
    ``margin`` = ε > 0 a pair whose qualities differ by at most ε is a tie: the voter the
    Thurstone models with a draw margin assume (ties then become a Copeland ranking with ties).
    """

    beta: float = 1.0
    margin: float = 0.0
    name: str = "thurstone"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.beta) and self.beta >= 0.0):
            raise InvalidInput(f"beta must be finite and >= 0, got {self.beta!r}")
        if not (math.isfinite(self.margin) and self.margin >= 0.0):
            raise InvalidInput(f"margin must be finite and >= 0, got {self.margin!r}")

    def pair_codes(self, strengths: FloatArray, rng: np.random.Generator) -> CodeArray:
        perf = strengths + self.beta * rng.standard_normal(strengths.shape)
        return _codes_from_performance(perf, self.margin)


@dataclass(frozen=True, slots=True)
class GumbelNoise:
    """Perceived quality = strength + Gumbel(0, 1): the ranking is Plackett–Luce and every pair
    follows Bradley–Terry exactly, P(a ≻ b) = 1 / (1 + exp(−(s_a − s_b))).

    Used for the real-scale scenario, whose ground truth is a Bradley–Terry fit."""

    name: str = "gumbel"

    def pair_codes(self, strengths: FloatArray, rng: np.random.Generator) -> CodeArray:
        return _codes_from_performance(strengths + rng.gumbel(size=strengths.shape))


#: Judge verdicts, parsed from GenAI-Bench's ``judge_vote`` column (quotes and spaces removed).
_JUDGE_VERDICTS = {
    "[[A>B]]": "left",
    "[[B>A]]": "right",
    "[[A=B=Good]]": "tie",
    "[[A=B=Bad]]": "both_bad",
}


def _parse_verdict(raw: str) -> str | None:
    cleaned = raw.replace("'", "").replace('"', "").replace(" ", "")
    return _JUDGE_VERDICTS.get(cleaned)


def judge_confusion(path: Path, judge: str) -> dict[str, float]:
    """P(judge verdict | the human preferred one side), pooled over both sides.

    Only rows where the human chose a side (``leftvote``/``rightvote``) are used: the simulated
    truth is strict. A verdict that agrees with the human is "correct"; the opposite side is
    "wrong"; "[[A=B=Good]]" is "tie"; "[[A=B=Bad]]" is "both_bad". Verdicts the judge did not
    format parsably (about 2% for GPT-4o) are left out. Left/right are pooled (mirrored): the
    simulator shows outputs in random order, so position bias averages out.
    """
    if not path.is_file():
        raise NotFound(f"judge vote file not found: {path}")
    counts: Counter[str] = Counter()
    judges: set[str] = set()
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            judges.add(row["judge"])
            if row["judge"] != judge or row["human_vote"] not in ("leftvote", "rightvote"):
                continue
            verdict = _parse_verdict(row["judge_vote"])
            if verdict is None:
                continue
            human = "left" if row["human_vote"] == "leftvote" else "right"
            if verdict in ("left", "right"):
                counts["correct" if verdict == human else "wrong"] += 1
            else:
                counts[verdict] += 1
    total = sum(counts.values())
    if total == 0:
        raise InvalidInput(f"no usable votes for judge {judge!r}", detail=sorted(judges))
    return {key: counts[key] / total for key in ("correct", "wrong", "tie", "both_bad")}


@dataclass(frozen=True, slots=True)
class JudgeNoise:
    """Each pair's verdict drawn from a real judge's confusion with humans (METHODS §2.4).

    The better side (by true strength) wins with ``correct``, loses with ``wrong``, and the pair
    is called a tie or "both bad" with the remaining probabilities. Build one from the GenAI-Bench
    file with :meth:`from_csv`.
    """

    correct: float
    wrong: float
    tie: float
    both_bad: float
    name: str = "judge"

    def __post_init__(self) -> None:
        probs = (self.correct, self.wrong, self.tie, self.both_bad)
        if any(not (0.0 <= p <= 1.0) for p in probs) or abs(sum(probs) - 1.0) > 1e-9:
            raise InvalidInput(f"judge probabilities must be in [0, 1] and sum to 1, got {probs}")

    @classmethod
    def from_csv(cls, path: Path, judge: str = "gpt4o") -> JudgeNoise:
        """The confusion of ``judge`` in the GenAI-Bench file (see :func:`judge_confusion`)."""
        c = judge_confusion(path, judge)
        return cls(c["correct"], c["wrong"], c["tie"], c["both_bad"], name=f"judge:{judge}")

    def pair_codes(self, strengths: FloatArray, rng: np.random.Generator) -> CodeArray:
        truth = _codes_from_performance(strengths)
        u = rng.random(truth.shape)
        edges = np.cumsum([self.correct, self.wrong, self.tie])
        verdict = np.where(
            u < edges[0],
            truth,
            np.where(u < edges[1], -truth, np.where(u < edges[2], TIE, BOTH_BAD)),
        )
        # Truly equal strengths have no correct side: the judge's left/right is then a coin.
        coin = np.where(rng.random(truth.shape) < 0.5, WIN, LOSS)
        verdict = np.where((truth == TIE) & (np.abs(verdict) == 1), coin, verdict)
        return verdict.astype(np.int8)
