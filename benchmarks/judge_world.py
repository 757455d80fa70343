"""The simulated world of benchmarks/judge_eval.py: a board, a filtered reference set, and a judge
whose disagreement with humans is GPT-4o's, measured on GenAI-Bench.

* Board: 35 models, μ uniform on [17, 31] (the span of K-Sort Arena's image board: about 0.4 μ
  between neighbours), σ ~ U(0.75, 0.85). Each model's true skill is θ_k ~ N(μ_k, σ_k²): the
  board is an estimate, as a real one is.
* An output's quality X = θ + N(0, β_o²); one human vote sees X + N(0, h²), β_o² + h² = β² with
  β = 25/6 and h² = share·β² (default share 0.5: an assumption, docs/judge.md).
* Reference set: 500 instances of 4 distinct models whose human ranking (one noisy vote) agrees
  with the board (Spearman > 0.75): rejection sampling, as K-Sort Eval's released set was filtered.
* New model: θ ~ U(18, 30); one fresh output X per instance.
* Judge: ranks Y = X + N(0, s²) + b·(½ − position/(n−1)) (Thurstonian noise plus a primacy bias).
  (s, b) are fitted, per new model, so that on random, unfiltered board pairs the judge agrees with
  a noisy human vote as often as GPT-4o did in ``genai_bench_judge_votes.csv`` (image generation,
  strict human votes; a judge tie counts as a coin flip), separately for "left better" and
  "right better"; the rates are drawn from their posteriors, so every new model meets a slightly
  different judge.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, special

from karena.judge.posterior import split_beta
from karena.judge.reference import agreement_with_board
from karena.rating.models.thurstone import DEFAULT_BETA
from karena.rating.types import Rating

__all__ = [
    "JudgeCounts",
    "World",
    "fit_judge",
    "human_agreement",
    "judge_order",
    "load_counts",
    "make_world",
    "sample_agreement",
]


@dataclass(frozen=True)
class JudgeCounts:
    """GPT-4o's verdicts on strict human votes: agree / disagree / tie, per human side."""

    left: tuple[int, int, int]
    right: tuple[int, int, int]


def load_counts(path: Path, judge: str = "gpt4o", task: str = "image_generation") -> JudgeCounts:
    """Count the judge's verdicts against strict human votes (leftvote / rightvote)."""
    c: Counter[tuple[str, str]] = Counter()
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["judge"] == judge and row["task"] == task:
                c[(row["human_vote"], row["judge_vote"])] += 1
    ties = ("[[A=B=Good]]", "[[A=B=Bad]]")
    left = (
        c[("leftvote", "[[A>B]]")],
        c[("leftvote", "[[B>A]]")],
        sum(c[("leftvote", t)] for t in ties),
    )
    right = (
        c[("rightvote", "[[B>A]]")],
        c[("rightvote", "[[A>B]]")],
        sum(c[("rightvote", t)] for t in ties),
    )
    return JudgeCounts(left, right)


def sample_agreement(counts: tuple[int, int, int], rng: np.random.Generator) -> float:
    """An agreement rate drawn from its posterior; a judge tie is a coin flip for a ranker."""
    agree, disagree, tie = counts
    p = rng.dirichlet([agree + 1, disagree + 1, tie + 1])
    return float(p[0] + 0.5 * p[2])


def fit_judge(
    p_left: float, p_right: float, gaps: np.ndarray, human_left: np.ndarray
) -> tuple[float, float]:
    """(s, b): judge noise and primacy bias that reproduce GPT-4o's agreement with human votes.

    ``gaps`` are quality differences X_left − X_right of unfiltered random board pairs and
    ``human_left`` whether a (noisy) human vote preferred the left one: the judge's disagreement
    with a vote is then split between the vote's own noise and the judge's.
    """
    gl, gr = gaps[human_left], -gaps[~human_left]

    def eqs(v: np.ndarray) -> list[float]:
        s, b = math.exp(v[0]), v[1]
        z = math.sqrt(2.0) * s
        return [
            float(special.ndtr((gl + b) / z).mean() - p_left),
            float(special.ndtr((gr - b) / z).mean() - p_right),
        ]

    sol = optimize.fsolve(eqs, [math.log(3.0), 0.0], full_output=True)
    v = sol[0]
    return max(math.exp(float(v[0])), 0.05), float(v[1])


@dataclass(frozen=True)
class World:
    board_mu: np.ndarray
    board_sigma: np.ndarray
    true_skill: np.ndarray  # θ_k ~ N(μ_k, σ_k²): the board is an estimate, not the truth
    inst_models: np.ndarray  # (N, 4) model indices
    inst_x: np.ndarray  # (N, 4) qualities of the stored outputs (what a noiseless eye sees)
    inst_ranks: np.ndarray  # (N, 4) human ranks, 1 = best (one noisy vote, filtered)
    pair_gaps: np.ndarray  # X_left − X_right of random, unfiltered board pairs
    pair_human_left: np.ndarray  # a noisy human vote on that pair preferred the left output
    beta_output: float
    human_noise: float
    acceptance: float  # share of sampled instances that passed the Spearman > 0.75 filter


def make_world(
    rng: np.random.Generator, share: float, n_models: int = 35, n_instances: int = 500
) -> World:
    """Board, true skills, and the filtered reference set (rejection sampling, as K-Sort Eval)."""
    beta_o, human = split_beta(DEFAULT_BETA, share)
    mu = np.sort(rng.uniform(17.0, 31.0, n_models))[::-1]
    sigma = rng.uniform(0.75, 0.85, n_models)
    skill = mu + sigma * rng.standard_normal(n_models)
    models, xs, ranks = [], [], []
    tried = 0
    while len(models) < n_instances:
        tried += 1
        pick = rng.choice(n_models, 4, replace=False)
        x = skill[pick] + rng.normal(0.0, beta_o, 4)
        z = x + rng.normal(0.0, human, 4)
        r = np.argsort(np.argsort(-z)) + 1
        ratings = [Rating(float(mu[j]), float(sigma[j])) for j in pick]
        if agreement_with_board([float(v) for v in r], ratings) > 0.75:
            models.append(pick)
            xs.append(x)
            ranks.append(r)
    a = rng.integers(0, n_models, 20000)
    b = (a + rng.integers(1, n_models, 20000)) % n_models
    gaps = skill[a] - skill[b] + rng.normal(0.0, beta_o * math.sqrt(2.0), a.size)
    human_left = gaps + rng.normal(0.0, human * math.sqrt(2.0), a.size) > 0
    return World(mu, sigma, skill, np.array(models), np.array(xs), np.array(ranks), gaps,
                 human_left, beta_o, human, n_instances / tried)  # fmt: skip


def judge_order(
    x: np.ndarray, judge: tuple[float, float], rng: np.random.Generator
) -> tuple[int, ...]:
    """A simulated judge's order (best first) of the displayed qualities ``x``."""
    s, b = judge
    bias = b * (0.5 - np.arange(x.size) / (x.size - 1))
    y = x + rng.normal(0.0, s, x.size) + bias
    return tuple(int(i) for i in np.argsort(-y))


def human_agreement(human: float, gaps: np.ndarray) -> float:
    """P(two independent human votes agree) on pairs with these quality gaps."""
    p = special.ndtr(gaps / (math.sqrt(2.0) * human)) if human > 0 else (gaps > 0).astype(float)
    return float(np.mean(p**2 + (1.0 - p) ** 2))
