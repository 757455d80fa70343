"""Ranking-quality metrics and the "votes to converge" statistic (K-Sort Arena §4, METHODS §1.6)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "Summary",
    "kendall_tau",
    "position_mse",
    "positions",
    "settle_point",
    "summarize",
    "top_k_exact",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def positions(score: FloatArray) -> IntArray:
    """(S, n) leaderboard positions, 1 = highest score. Equal scores keep index order."""
    order = np.argsort(-score, axis=1, kind="stable")
    pos = np.empty_like(order)
    rows = np.arange(score.shape[0])[:, None]
    pos[rows, order] = np.arange(1, score.shape[1] + 1)
    return pos.astype(np.int64)


def position_mse(predicted: IntArray, truth: IntArray) -> FloatArray:
    """Mean squared error between ranked positions and true positions, per arena."""
    diff = (predicted - truth).astype(np.float64)
    return np.asarray((diff * diff).mean(axis=1), dtype=np.float64)


def kendall_tau(predicted: IntArray, truth: IntArray) -> FloatArray:
    """Kendall's τ between two strict position vectors, per arena (τ-a = τ-b without ties)."""
    n = predicted.shape[1]
    sp = np.sign(predicted[:, :, None] - predicted[:, None, :])
    st = np.sign(truth[:, :, None] - truth[:, None, :])
    concord = (sp * st).sum(axis=(1, 2)) / 2.0
    return np.asarray(concord / (n * (n - 1) / 2.0), dtype=np.float64)


def top_k_exact(predicted: IntArray, truth: IntArray, k: int) -> BoolArray:
    """True where the models truly in the top ``k`` hold exactly their true positions."""
    top = truth <= k
    exact = np.all(np.where(top, predicted == truth, True), axis=1)
    return np.asarray(exact, dtype=np.bool_)


def settle_point(ok: BoolArray, steps: IntArray) -> FloatArray:
    """Votes after which ``ok`` holds until the end of the run; +inf if it fails at the end.

    ``ok`` is (S, T) evaluated after ``steps[t]`` votes (``steps`` increasing, ending at the
    budget). This is the paper's "converged: the MSE stays 0" when ok = (MSE == 0).
    """
    s, t = ok.shape
    bad = np.asarray(~ok, dtype=np.bool_)
    any_bad = np.asarray(bad.any(axis=1), dtype=np.bool_)
    last_bad = t - 1 - np.argmax(bad[:, ::-1], axis=1)
    result = np.zeros(s, dtype=np.float64)
    for row in range(s):
        if not any_bad[row]:
            result[row] = float(steps[0])
        elif last_bad[row] == t - 1:
            result[row] = np.inf
        else:
            result[row] = float(steps[last_bad[row] + 1])
    return result


@dataclass(frozen=True, slots=True)
class Summary:
    """Median and interquartile range of votes-to-converge, with censoring made explicit.

    A run that never settled within the budget counts as "> budget" (+inf). The median (or a
    quartile) is reported as censored when it falls among those runs.
    """

    median: float
    q25: float
    q75: float
    converged: int
    runs: int
    budget: float

    @property
    def censored(self) -> bool:
        """True when more than half the runs did not converge."""
        return not np.isfinite(self.median)

    def fmt(self, scale: float = 1.0) -> str:
        """'median [q25–q75]' with '>budget' for censored figures."""

        def one(x: float) -> str:
            return f">{self.budget * scale:,.0f}" if not np.isfinite(x) else f"{x * scale:,.0f}"

        return f"{one(self.median)} [{one(self.q25)}–{one(self.q75)}]"


def summarize(votes: FloatArray, budget: float) -> Summary:
    """Median and IQR over runs; +inf values (not converged) sort above every finite one."""
    finite = np.isfinite(votes)
    ordered = np.sort(votes)

    def quantile(q: float) -> float:
        # Order statistic with linear interpolation only between finite neighbours.
        pos = q * (len(ordered) - 1)
        lo, hi = int(np.floor(pos)), int(np.ceil(pos))
        if not np.isfinite(ordered[hi]):
            return (
                float(ordered[hi])
                if pos > lo or not np.isfinite(ordered[lo])
                else float(ordered[lo])
            )
        return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))

    return Summary(
        median=quantile(0.5),
        q25=quantile(0.25),
        q75=quantile(0.75),
        converged=int(finite.sum()),
        runs=len(votes),
        budget=budget,
    )
