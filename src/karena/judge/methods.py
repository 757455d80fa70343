"""The two placement methods behind one interface, each with its 90% rank interval.

``paper``
    The paper's loop (:class:`karena.judge.loop.LoopState`): matching on the board's ratings,
    the (K+1)-wise update through the arena's rating model, the posterior correction λ(ρ), and
    the σ < 0.75 stop. Its (μ, σ) is the paper's; its σ is not an interval (it treats a judged
    ranking as a human vote, and covers the truth about two times in three at the stop).
``output``
    karena's output-level placement (:class:`karena.judge.placement.PlacementState`): a grid
    posterior over the new model's skill and the judge's noise, stopping when its sd is below 1.4.

Both report the same kind of interval, from the same evidence: the exact posterior over
(θ, judge noise) of every ranking the judge returned (:class:`karena.judge.posterior.
GridPosterior`). For ``output`` that is the method's own posterior; for ``paper`` it is kept
beside the loop, fed the same rankings, and does not steer it. A posterior stays valid whatever
rule chose the instances or the stop, so both methods' intervals are calibrated
(docs/judge.md, "What the interval means").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from karena.errors import InvalidInput
from karena.judge.loop import LoopConfig, LoopState, RunOutcome
from karena.judge.matching import MatchingTable
from karena.judge.placement import (
    PlacementConfig,
    PlacementState,
    infer_output_qualities,
)
from karena.judge.posterior import GridPosterior, OutputQuality, split_beta
from karena.rating.base import OnlineRatingModel
from karena.rating.rank_interval import DEFAULT_LEVEL, BoardRanks, RankInterval, quantile_points
from karena.rating.types import Rating

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "HistoryPoint",
    "MethodName",
    "OutputPlacer",
    "PaperPlacer",
    "Placer",
    "make_placer",
]

MethodName = Literal["paper", "output"]
METHODS: tuple[MethodName, ...] = ("paper", "output")
#: karena's default: calibrated, and at equal runs at least as accurate (docs/judge.md).
DEFAULT_METHOD: MethodName = "output"


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """The belief after a run (run 0: the prior): μ, σ, the point rank and the 90% interval."""

    run: int
    mu: float
    sigma: float
    rank: int
    rank_low: int
    rank_high: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "run": self.run,
            "mu": self.mu,
            "sigma": self.sigma,
            "rank": self.rank,
            "rank_low": self.rank_low,
            "rank_high": self.rank_high,
        }


class Placer(Protocol):
    """What the evaluator and the benchmark drive: one method's state for one new model."""

    method: MethodName
    history: list[HistoryPoint]

    @property
    def runs(self) -> int: ...
    @property
    def scored(self) -> int: ...
    @property
    def rating(self) -> Rating: ...
    @property
    def seed(self) -> int: ...
    @property
    def swapping(self) -> bool: ...
    @property
    def max_runs(self) -> int: ...
    def config_dict(self) -> dict[str, Any]: ...
    def select(self, count: int = 1) -> list[int]: ...
    def stop_reason(self) -> str | None: ...
    def interval(self) -> RankInterval: ...
    def skill_quantiles(self) -> tuple[float, ...]: ...
    def rank(self) -> int: ...
    def record(self, instance: int, ranks: Sequence[int] | None) -> dict[str, Any]: ...
    def replay(self, entries: Sequence[Mapping[str, Any]]) -> None: ...


class _Base:
    board_ranks: BoardRanks
    level: float
    history: list[HistoryPoint]

    @property
    def rating(self) -> Rating:
        raise NotImplementedError

    @property
    def runs(self) -> int:
        raise NotImplementedError

    def _evidence(self) -> GridPosterior:
        raise NotImplementedError

    def interval(self) -> RankInterval:
        """The 90% rank interval of the exact posterior of every judged ranking so far."""
        g = self._evidence()
        return self.board_ranks.interval(g.theta, g.theta_weights(), self.level)

    def skill_quantiles(self) -> tuple[float, ...]:
        """99 quantiles of the same posterior over θ: what the leaderboard stores of it."""
        g = self._evidence()
        return quantile_points(g.theta, g.theta_weights())

    def rank(self) -> int:
        """The method's point rank: its μ scored as the paper does (μ − 3·mean σ of the board)."""
        return int(self.board_ranks.rank(self.rating.mu))

    def _note(self) -> dict[str, Any]:
        r, iv, rank = self.rating, self.interval(), self.rank()
        self.history.append(HistoryPoint(self.runs, r.mu, r.sigma, rank, iv.low, iv.high))
        return {
            "mu": r.mu,
            "sigma": r.sigma,
            "rank": rank,
            "rank_low": iv.low,
            "rank_high": iv.high,
        }


class PaperPlacer(_Base):
    """The paper's loop, with the exact posterior of its rankings beside it for the interval."""

    method: MethodName = "paper"

    def __init__(
        self,
        loop: LoopState,
        qualities: Sequence[OutputQuality],
        board: Sequence[Rating],
        beta_output: float,
        level: float = DEFAULT_LEVEL,
    ) -> None:
        if len(qualities) != len(loop.instance_ratings):
            raise InvalidInput("one output-quality entry per reference instance is needed")
        self.loop, self.qualities, self.level = loop, qualities, level
        self.board_ranks = BoardRanks(board)
        self.evidence = GridPosterior(loop.config.mu0, loop.config.sigma0, beta_output)
        self.history = []
        self._note()

    runs = property(lambda self: self.loop.runs)
    scored = property(lambda self: self.loop.scored)
    rating = property(lambda self: self.loop.rating)
    seed = property(lambda self: self.loop.config.seed)
    swapping = property(lambda self: self.loop.config.swapping)
    max_runs = property(lambda self: self.loop.config.max_runs)

    def config_dict(self) -> dict[str, Any]:
        return self.loop.config.to_dict()

    def _evidence(self) -> GridPosterior:
        return self.evidence

    def select(self, count: int = 1) -> list[int]:
        return self.loop.select(count)

    def stop_reason(self) -> str | None:
        return self.loop.stop_reason()

    def record(self, instance: int, ranks: Sequence[int] | None) -> dict[str, Any]:
        """Score (or skip) a run: the update and correction, then the evidence."""
        if ranks is None:
            self.loop.apply(instance, None)
            return self._note()
        outcome = self.loop.score(instance, ranks)
        self.loop.apply(instance, outcome)
        self.evidence.update(self.qualities[instance], ranks)
        fields = {
            "rho": outcome.rho,
            "lambda": outcome.lam,
            "w": outcome.w,
            "mu_hat": outcome.updated.mu,
            "sigma_hat": outcome.updated.sigma,
        }
        return {**fields, **self._note()}

    def replay(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Rebuild from journal entries: their stored ratings, and their ranks for the evidence."""
        for e in entries:
            inst = int(e["instance_index"])
            if e["type"] == "run":
                rating = Rating(float(e["mu"]), float(e["sigma"]))
                self.loop.apply(inst, RunOutcome((), 0.0, 1.0, 1.0, rating, rating))
                self.evidence.update(self.qualities[inst], [int(r) for r in e["ranks"]])
            else:
                self.loop.apply(inst, None)
            self._note()


class OutputPlacer(_Base):
    """Output-level placement: its own posterior is the evidence."""

    method: MethodName = "output"

    def __init__(
        self, state: PlacementState, board: Sequence[Rating], level: float = DEFAULT_LEVEL
    ) -> None:
        self.state, self.level = state, level
        self.board_ranks = BoardRanks(board)
        self.history = []
        self._note()

    runs = property(lambda self: self.state.runs)
    scored = property(lambda self: self.state.scored)
    rating = property(lambda self: self.state.rating)
    seed = property(lambda self: self.state.config.seed)
    swapping = property(lambda self: self.state.config.swapping)
    max_runs = property(lambda self: self.state.config.max_runs)

    def config_dict(self) -> dict[str, Any]:
        return self.state.config.to_dict()

    def _evidence(self) -> GridPosterior:
        return self.state.posterior

    def select(self, count: int = 1) -> list[int]:
        return self.state.select(count)

    def stop_reason(self) -> str | None:
        return self.state.stop_reason()

    def record(self, instance: int, ranks: Sequence[int] | None) -> dict[str, Any]:
        """Multiply a judged ranking into the posterior (or record a skip)."""
        self.state.apply(instance, ranks)
        post = self.state.posterior
        noise = float(post.noise_weights() @ post.s)
        return {**self._note(), "judge_noise": noise}

    def replay(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Rebuild from journal entries by re-scoring their stored ranks (deterministic)."""
        for e in entries:
            ranks = [int(r) for r in e["ranks"]] if e["type"] == "run" else None
            self.state.apply(int(e["instance_index"]), ranks)
            self._note()


def make_placer(
    method: MethodName,
    *,
    instance_ratings: Sequence[Sequence[Rating]],
    human_ranks: Sequence[Sequence[float]],
    board: Sequence[Rating],
    paper: LoopConfig | None = None,
    output: PlacementConfig | None = None,
    rating_model: OnlineRatingModel | None = None,
    qualities: Sequence[OutputQuality] | None = None,
    table: MatchingTable | None = None,
    level: float = DEFAULT_LEVEL,
) -> Placer:
    """The state of ``method`` for one new model.

    ``output`` configures the output-quality model, which both methods use (``paper`` for its
    interval); ``qualities`` and ``table`` may be given when they were computed once for a
    reference set (the benchmark places many models on one).
    """
    out_cfg = output if output is not None else PlacementConfig()
    if qualities is None:
        qualities = infer_output_qualities(instance_ratings, human_ranks, out_cfg)
    if method == "output":
        return OutputPlacer(PlacementState(qualities, out_cfg, table), board, level)
    if method != "paper":
        raise InvalidInput(f"method must be 'paper' or 'output', got {method!r}")
    cfg = paper if paper is not None else LoopConfig(seed=out_cfg.seed)
    if table is None:
        table = MatchingTable.build(instance_ratings, cfg.alpha, cfg.uncertainty)
    args: list[Any] = [table, instance_ratings, human_ranks, cfg]
    if rating_model is not None:
        args.append(rating_model)
    loop = LoopState(*args)
    beta_o, _ = split_beta(out_cfg.beta, out_cfg.human_noise_share)
    return PaperPlacer(loop, qualities, board, beta_o, level)
