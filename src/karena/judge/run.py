"""The one front door of K-Sort Eval: journal, judge client, loop and report together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from karena.errors import InvalidInput
from karena.judge.client import JudgeClient
from karena.judge.evaluator import EvalOutcome, Evaluator, journal_header
from karena.judge.journal import Journal
from karena.judge.loop import LoopConfig, LoopState
from karena.judge.media import DEFAULT_FRAMES, VideoMode
from karena.judge.outputs import OutputSource
from karena.judge.prompts import RuleSet
from karena.judge.reference import ReferenceSet
from karena.judge.report import Placement, place, write_report
from karena.settings import Settings

__all__ = ["EvalSummary", "evaluate"]


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


def evaluate(
    *,
    reference: ReferenceSet,
    outputs: OutputSource,
    model_name: str,
    rules: RuleSet,
    settings: Settings,
    config: LoopConfig,
    out_dir: Path,
    journal_path: Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    batch: int = 1,
    video_mode: VideoMode = "auto",
    frames: int = DEFAULT_FRAMES,
    write_board_entry: bool = False,
    client_options: dict[str, Any] | None = None,
    on_start: Callable[[LoopState, int], None] | None = None,
    on_run: Callable[[dict[str, Any], LoopState], None] | None = None,
) -> EvalSummary:
    """Place ``model_name`` on ``reference``'s board; resumable through the journal."""
    usable = tuple(i for i in reference.instances if outputs.has(i))
    if not usable:
        raise InvalidInput("the new model has no output for any reference prompt")
    if len(usable) != len(reference.instances):
        reference = ReferenceSet(usable, reference.board, reference.modality, reference.source)
    journal_file = journal_path if journal_path is not None else out_dir / "journal.jsonl"
    header = journal_header(reference, model_name, config, rules, settings.judge_model)
    with Journal.open(journal_file, header, resume=resume, overwrite=overwrite) as journal:
        resumed = len(journal.entries)
        client = JudgeClient.from_settings(settings, **(client_options or {}))

        async def go() -> EvalOutcome:
            async with client:
                evaluator = Evaluator(
                    reference=reference,
                    outputs=outputs,
                    client=client,
                    rules=rules,
                    config=config,
                    journal=journal,
                    batch=batch,
                    video_mode=video_mode,
                    frames=frames,
                    on_run=on_run,
                )
                if on_start is not None:
                    on_start(evaluator.state, resumed)
                return await evaluator.run()

        outcome = asyncio.run(go())
    state = outcome.state
    placement = place(state.rating, reference.board)
    paths = write_report(
        out_dir,
        model_name=model_name,
        placement=placement,
        history=state.history,
        stop_reason=outcome.stop_reason,
        runs=state.runs,
        scored=state.scored,
        skipped=outcome.skipped,
        judge={"model": settings.judge_model, "base_url": settings.judge_base_url},
        config=config.to_dict(),
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
    )
