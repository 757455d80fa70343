"""The one front door of K-Sort Eval: journal, judge backend, method and report together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from karena.errors import InvalidInput
from karena.judge.backends import JudgeBackend
from karena.judge.client import JudgeClient
from karena.judge.evaluator import EvalOutcome, Evaluator, journal_header
from karena.judge.journal import Journal
from karena.judge.loop import LoopConfig
from karena.judge.media import DEFAULT_FRAMES, VideoMode
from karena.judge.methods import MethodName, Placer, make_placer
from karena.judge.outputs import OutputSource
from karena.judge.placement import PlacementConfig
from karena.judge.prompts import RuleSet
from karena.judge.reference import ReferenceSet
from karena.judge.report import Placement, place, write_report
from karena.rating.base import OnlineRatingModel
from karena.rating.rank_interval import RankInterval
from karena.settings import Settings

__all__ = ["EvalSummary", "evaluate", "method_of"]


@dataclass(frozen=True)
class EvalSummary:
    """The finished evaluation: placement, why it stopped, and where the files are."""

    placement: Placement
    stop_reason: str
    runs: int
    scored: int
    skipped: int
    resumed_runs: int
    judge_requests: int
    paths: dict[str, Path]
    method: MethodName = "output"
    judge_name: str = ""

    @property
    def interval(self) -> RankInterval:
        """The 90% rank interval (every placement has one)."""
        assert self.placement.interval is not None
        return self.placement.interval


def method_of(config: LoopConfig | PlacementConfig) -> MethodName:
    """The method a config belongs to: ``paper`` (LoopConfig) or ``output`` (PlacementConfig)."""
    return "paper" if isinstance(config, LoopConfig) else "output"


def evaluate(
    *,
    reference: ReferenceSet,
    outputs: OutputSource,
    model_name: str,
    rules: RuleSet,
    settings: Settings,
    config: LoopConfig | PlacementConfig | None = None,
    out_dir: Path,
    judge: JudgeBackend | None = None,
    rating_model: OnlineRatingModel | None = None,
    journal_path: Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    batch: int = 1,
    video_mode: VideoMode = "auto",
    frames: int = DEFAULT_FRAMES,
    write_board_entry: bool = False,
    client_options: dict[str, Any] | None = None,
    on_start: Callable[[Placer, int], None] | None = None,
    on_run: Callable[[dict[str, Any], Placer], None] | None = None,
) -> EvalSummary:
    """Place ``model_name`` on ``reference``'s board; resumable through the journal.

    ``config`` chooses the method: a :class:`LoopConfig` runs the paper's loop, a
    :class:`PlacementConfig` (the default) karena's output-level placement. ``judge`` is any
    :class:`~karena.judge.backends.JudgeBackend`; without one, the chat-completions endpoint of
    ``settings`` is used (``client_options`` go to its constructor).
    """
    cfg = config if config is not None else PlacementConfig()
    method = method_of(cfg)
    usable = tuple(i for i in reference.instances if outputs.has(i))
    if not usable:
        raise InvalidInput("the new model has no output for any reference prompt")
    if len(usable) != len(reference.instances):
        reference = ReferenceSet(usable, reference.board, reference.modality, reference.source)
    if judge is None:
        options = {"video_mode": video_mode, "frames": frames, **(client_options or {})}
        judge = JudgeClient.from_settings(settings, **options)
    journal_file = journal_path if journal_path is not None else out_dir / "journal.jsonl"
    header = journal_header(reference, model_name, method, cfg.to_dict(), rules, judge.name)
    instances = reference.instances
    placer = make_placer(
        method,
        instance_ratings=[reference.ratings(i) for i in instances],
        human_ranks=[i.human_ranks for i in instances],
        board=list(reference.board.values()),
        paper=cfg if isinstance(cfg, LoopConfig) else None,
        output=cfg if isinstance(cfg, PlacementConfig) else PlacementConfig(seed=cfg.seed),
        rating_model=rating_model,
    )
    with Journal.open(journal_file, header, resume=resume, overwrite=overwrite) as journal:
        resumed = len(journal.entries)
        backend = judge

        async def go() -> EvalOutcome:
            async with backend:
                evaluator = Evaluator(
                    reference=reference,
                    outputs=outputs,
                    judge=backend,
                    rules=rules,
                    placer=placer,
                    journal=journal,
                    batch=batch,
                    on_run=on_run,
                )
                if on_start is not None:
                    on_start(evaluator.state, resumed)
                return await evaluator.run()

        outcome = asyncio.run(go())
    state = outcome.state
    placement = replace(
        place(state.rating, reference.board),
        interval=state.interval(),
        method=method,
        skill_quantiles=state.skill_quantiles(),
    )
    paths = write_report(
        out_dir,
        model_name=model_name,
        placement=placement,
        history=[h.to_dict() for h in state.history],
        stop_reason=outcome.stop_reason,
        runs=state.runs,
        scored=state.scored,
        skipped=outcome.skipped,
        judge={"name": judge.name, "model": judge.name, "base_url": _base_url(judge)},
        config={"method": method, **cfg.to_dict()},
        reference={
            "instances": len(reference.instances),
            "source": reference.source,
            "fingerprint": reference.fingerprint(),
        },
        board=reference.board,
        write_board_entry=write_board_entry,
    )
    paths["journal"] = journal_file
    return EvalSummary(
        placement,
        outcome.stop_reason,
        state.runs,
        state.scored,
        outcome.skipped,
        resumed,
        outcome.judge_requests,
        paths,
        method,
        judge.name,
    )


def _base_url(judge: JudgeBackend) -> str | None:
    url = getattr(judge, "base_url", None)
    return url if isinstance(url, str) else None
