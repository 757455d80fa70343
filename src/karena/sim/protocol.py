"""The convergence study of K-Sort Arena §4 (METHODS §1.6), run on karena's own code.

:func:`paper_methods` lists the contenders, :func:`run_convergence` runs them side by side on
the same shuffled worlds, and :func:`run_new_model` / :func:`run_real_scale` run the two other
scenarios. Everything random comes from an explicit seed; nothing is printed here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from karena.matchmaking import RandomMatchmaker, SkillOnlyMatchmaker, UCBMatchmaker
from karena.matchmaking.uncertainty import UncertainWindowMatchmaker
from karena.rating.base import OnlineRatingModel
from karena.rating.models.elo import Elo
from karena.rating.models.thurstone import ThurstoneK
from karena.sim.engine import Method, SimArena
from karena.sim.metrics import (
    Summary,
    kendall_tau,
    position_mse,
    settle_point,
    summarize,
    top_k_exact,
)
from karena.sim.noise import NoiseModel

__all__ = [
    "ELO_K_FACTORS",
    "PAPER_MODEL",
    "TUNED_MODEL",
    "WENG_LIN_MODEL",
    "MethodResult",
    "information_floor",
    "method_catalog",
    "run_convergence",
    "run_new_model",
    "run_real_scale",
    "shuffled_worlds",
]

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[int], None]

#: The paper's closed form exactly (Eqs. 7–10: no draw margin, γ = 1, Weng–Lin's κ = 1e-4).
PAPER_MODEL = ThurstoneK(draw_margin=0.0, weighting="paper", gamma="paper")
#: The same update with the variance factor clamped at 0.5: one vote may at most halve σ².
TUNED_MODEL = ThurstoneK(draw_margin=0.0, weighting="paper", gamma="paper", kappa=0.5)
#: Weng–Lin's damping γ = σ_i / c_iq instead of γ = 1: the variance shrinks more slowly.
WENG_LIN_MODEL = ThurstoneK(draw_margin=0.0, weighting="paper", gamma="weng_lin")
#: karena's rating model (the default ThurstoneK: calibrated composite weights); no draw
#: margin, because the protocol's simulated voters never tie.
CALIBRATED_MODEL = ThurstoneK(draw_margin=0.0)
#: Elo K-factors swept in one run (4 is FastChat's).
ELO_K_FACTORS = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def information_floor(n: int, k: int) -> float:
    """log(N!)/log(K!): K-wise votes needed to tell N! orders apart (≈ 47 for N=50, K=4)."""
    return math.lgamma(n + 1) / math.lgamma(k + 1)


def shuffled_worlds(n: int, seeds: int, rng: np.random.Generator) -> FloatArray:
    """(seeds, n) true strengths: each arena's models get a shuffled position (strength n − pos)."""
    return np.stack([rng.permutation(n).astype(np.float64) for _ in range(seeds)])


def method_catalog(k: int = 4, factor_graph: OnlineRatingModel | None = None) -> dict[str, Method]:
    """Every contender of the study by key, in table order (K-wise ones at ``k``).

    The paper's own configuration is ``ucb``. ``window`` is this project's matchmaker with the
    paper's model; ``window-tuned`` adds the variance clamp κ = 0.5 and ranks by μ (the best
    method); ``ucb-tuned`` gives the paper's matchmaker the same rating changes, so the table
    separates what the matchmaker buys from what the rating change buys. ``window-wl`` and
    ``ucb-wl`` pair the Thompson-ordered window and UCB with Weng–Lin's γ (the better rating under
    heavy noise, as in the real-scale scenario). ``factor-graph`` is
    UCB with the deployment's update (only when a model is given).
    """
    ucb, rnd, window = UCBMatchmaker(), RandomMatchmaker(), UncertainWindowMatchmaker()
    catalog = {
        "elo": Method("Elo K=2 random", 2, rnd, rating=Elo(), sweep=ELO_K_FACTORS),
        "thurstone-k2": Method("Thurstone K=2 random", 2, rnd, rating=PAPER_MODEL),
        "random": Method(f"K={k} random", k, rnd, rating=PAPER_MODEL),
        "skill": Method(f"K={k} skill-only", k, SkillOnlyMatchmaker(), rating=PAPER_MODEL),
        "ucb-k2": Method("K=2 UCB", 2, ucb, rating=PAPER_MODEL),
        "ucb": Method(f"K={k} UCB", k, ucb, rating=PAPER_MODEL),
        "ucb-k6": Method("K=6 UCB", 6, ucb, rating=PAPER_MODEL),
    }
    if factor_graph is not None:
        catalog["factor-graph"] = Method(f"K={k} UCB factor-graph", k, ucb, rating=factor_graph)
    catalog["ucb-tuned"] = Method(f"K={k} UCB+κ", k, ucb, rating=TUNED_MODEL, score="mean")
    catalog["window"] = Method(f"K={k} window", k, window, rating=PAPER_MODEL)
    catalog["window-tuned"] = Method(f"K={k} window+κ", k, window, rating=TUNED_MODEL, score="mean")
    thompson = UncertainWindowMatchmaker(order="thompson")
    # One change at a time, then both: the production matchmaker with the paper's rating
    # model, the paper's matchmaker with karena's rating model, and the two together.
    catalog["window-ts"] = Method(f"K={k} window-TS", k, thompson, rating=PAPER_MODEL)
    catalog["ucb-cal"] = Method(f"K={k} UCB+calibrated", k, ucb, rating=CALIBRATED_MODEL)
    catalog["window-ts-cal"] = Method(
        f"K={k} window-TS+calibrated", k, thompson, rating=CALIBRATED_MODEL
    )
    catalog["ucb-wl"] = Method(f"K={k} UCB+WL", k, ucb, rating=WENG_LIN_MODEL, score="mean")
    catalog["window-wl"] = Method(
        f"K={k} window-TS+WL", k, thompson, rating=WENG_LIN_MODEL, score="mean"
    )
    return catalog


@dataclass(frozen=True, slots=True)
class MethodResult:
    """One method under one noise model: votes to converge per arena, and the mean MSE curve.

    For a swept Elo, ``votes`` and ``curve`` are those of the best K-factor (``elo_k``), and
    ``sweep`` holds every K-factor's summary.
    """

    method: Method
    votes: FloatArray
    summary: Summary
    steps: npt.NDArray[np.int64]
    curve: FloatArray
    elo_k: float | None = None
    sweep: tuple[tuple[float, Summary], ...] = ()

    @property
    def pairs_per_vote(self) -> int:
        return self.method.pairs_per_vote


def _rank_key(summary: Summary) -> tuple[float, float, int]:
    return (summary.median, summary.q75, -summary.converged)


def run_convergence(
    method: Method,
    strengths: FloatArray,
    noise: NoiseModel,
    budget_pairs: int,
    seed: int,
    progress: Progress | None = None,
    every: int = 1,
) -> MethodResult:
    """Run ``method`` on every world for ``budget_pairs`` pairwise-equivalent comparisons.

    Every method gets the same comparison budget, i.e. ⌊budget / C(K,2)⌋ K-wise votes, and
    the same worlds; "converged" is MSE = 0 from some vote to the end of its budget. The MSE
    is checked every ``every`` votes (1: after every vote).
    """
    votes = max(budget_pairs // method.pairs_per_vote, 1)
    arena = SimArena(method, strengths, noise, np.random.default_rng(seed))
    record = arena.run(votes, {"mse": position_mse}, every=every, progress=progress)
    mse = record.values["mse"]
    settled = settle_point(mse == 0.0, record.steps)
    if not method.sweep:
        return MethodResult(
            method, settled, summarize(settled, votes), record.steps, mse.mean(axis=0)
        )
    sweep = []
    for g, factor in enumerate(method.sweep):
        rows = record.group == g
        sweep.append((factor, summarize(settled[rows], votes), rows))
    best = min(sweep, key=lambda item: _rank_key(item[1]))
    rows = best[2]
    return MethodResult(
        method,
        settled[rows],
        best[1],
        record.steps,
        mse[rows].mean(axis=0),
        elo_k=best[0],
        sweep=tuple((f, s) for f, s, _ in sweep),
    )


@dataclass(frozen=True, slots=True)
class NewModelResult:
    """Votes until a newcomer's leaderboard position equals its true one (first, and for good)."""

    label: str
    first: FloatArray
    settled: FloatArray
    steps: npt.NDArray[np.int64]
    mean_position: FloatArray
    board_converged: float


def run_new_model(
    methods: Sequence[Method],
    n: int,
    true_rank: int,
    noise: NoiseModel,
    warmup_votes: int,
    votes: int,
    seeds: int,
    seed: int,
    progress: Progress | None = None,
) -> list[NewModelResult]:
    """K-Sort Arena Fig. 6: a model joins a converged n-model board; its true rank is ``true_rank``.

    Each method first builds the board with UCB (the newcomer disabled) for ``warmup_votes``,
    then the newcomer enters at the prior (so at the bottom, rank n+1) and the method's own
    matchmaker runs ``votes`` more votes.
    """
    results = []
    for method in methods:
        rng = np.random.default_rng(seed)
        base = np.stack([rng.permutation(n).astype(np.float64) for _ in range(seeds)])
        # The newcomer sits between the models at true positions true_rank−1 and true_rank.
        newcomer = np.full((seeds, 1), n - true_rank + 0.5)
        strengths = np.concatenate([base, newcomer], axis=1)
        disabled = np.zeros_like(strengths, dtype=np.bool_)
        disabled[:, n] = True
        warm = replace(method, matchmaker=UCBMatchmaker())
        arena = SimArena(warm, strengths, noise, np.random.default_rng(seed + 1), disabled)
        arena.run(warmup_votes, {}, progress=progress)
        pos = arena.predicted_positions()[:, :n]
        truth = arena.truth[:, :n] - (arena.truth[:, :n] > true_rank)
        board_ok = float(np.mean(np.all(pos == truth, axis=1)))
        arena.method = method
        arena.enable(n)

        def newcomer_position(
            pred: npt.NDArray[np.int64], _truth: npt.NDArray[np.int64]
        ) -> FloatArray:
            return pred[:, n].astype(np.float64)

        record = arena.run(votes, {"pos": newcomer_position}, progress=progress)
        steps = record.steps - warmup_votes
        at_truth = record.values["pos"] == float(true_rank)
        first = np.array([float(steps[np.argmax(r)]) if r.any() else np.inf for r in at_truth])
        settled = settle_point(at_truth, steps)
        results.append(
            NewModelResult(
                method.label,
                first,
                settled,
                steps,
                record.values["pos"].mean(axis=0),
                board_ok,
            )
        )
    return results


@dataclass(frozen=True, slots=True)
class RealScaleResult:
    """Votes until Kendall τ ≥ threshold and until the top 10 are exactly right (for good)."""

    label: str
    tau_votes: FloatArray
    tau80_votes: FloatArray
    top_votes: FloatArray
    steps: npt.NDArray[np.int64]
    mean_tau: FloatArray
    budget: int


def run_real_scale(
    methods: Sequence[Method],
    strengths: FloatArray,
    noise: NoiseModel,
    budget_pairs: int,
    seeds: int,
    seed: int,
    every: int = 25,
    tau_threshold: float = 0.95,
    top: int = 10,
    progress: Progress | None = None,
) -> list[RealScaleResult]:
    """Real-scale scenario: ground truth ``strengths`` (n,), e.g. a Bradley–Terry fit.

    Metrics are evaluated every ``every`` votes (so figures have that resolution).
    """
    worlds = np.tile(strengths, (seeds, 1))
    results = []
    for i, method in enumerate(methods):
        votes = max(budget_pairs // method.pairs_per_vote, 1)
        arena = SimArena(method, worlds, noise, np.random.default_rng(seed + i))
        record = arena.run(
            votes,
            {
                "tau": kendall_tau,
                "top": lambda p, t: top_k_exact(p, t, top).astype(np.float64),
            },
            every=every,
            progress=progress,
        )
        tau, exact = record.values["tau"], record.values["top"]
        if method.sweep:
            # Report the FastChat K-factor's arenas (the first group) for a swept Elo.
            rows = record.group == 0
            tau, exact = tau[rows], exact[rows]
        results.append(
            RealScaleResult(
                method.label,
                settle_point(tau >= tau_threshold, record.steps),
                settle_point(tau >= 0.8, record.steps),
                settle_point(exact > 0.5, record.steps),
                record.steps,
                tau.mean(axis=0),
                votes,
            )
        )
    return results
