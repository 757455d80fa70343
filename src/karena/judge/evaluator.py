"""Run K-Sort Eval against a real VLM judge, journaling every finished run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from karena.errors import ConfigError, KarenaError, UpstreamError
from karena.judge.client import JudgeClient, JudgeUnavailable, Verdict
from karena.judge.journal import Journal
from karena.judge.loop import LoopConfig, LoopState, RunOutcome, ranks_from_order, swap_permutation
from karena.judge.matching import MatchingTable
from karena.judge.media import DEFAULT_FRAMES, Media, VideoMode, content_parts
from karena.judge.outputs import OutputSource
from karena.judge.parsing import UnparseableReply
from karena.judge.prompts import RuleSet, build_instruction
from karena.judge.reference import ReferenceSet
from karena.rating.models.thurstone import ThurstoneK

__all__ = ["EvalOutcome", "Evaluator", "journal_header"]

log = logging.getLogger("karena.judge")

#: Stop (resumably) after this many skipped runs in a row: the judge or generator is broken.
DEFAULT_MAX_CONSECUTIVE_SKIPS = 10


@dataclass
class EvalOutcome:
    """How an evaluation ended, with its state and journal entries."""

    state: LoopState
    stop_reason: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    judge_requests: int = 0


def journal_header(
    reference: ReferenceSet, model_name: str, config: LoopConfig, rules: RuleSet, judge_model: str
) -> dict[str, Any]:
    """What a resumed evaluation must share with the one that wrote the journal."""
    return {
        "model": model_name,
        "reference": reference.fingerprint(),
        "instances": len(reference.instances),
        "modality": reference.modality,
        "judge_model": judge_model,
        "rules": rules.to_dict(),
        "config": config.to_dict(),
    }


class Evaluator:
    """Place one new model: select, generate, judge (swapped), update, correct, journal."""

    def __init__(
        self,
        *,
        reference: ReferenceSet,
        outputs: OutputSource,
        client: JudgeClient,
        rules: RuleSet,
        config: LoopConfig,
        journal: Journal,
        rating_model: ThurstoneK | None = None,
        batch: int = 1,
        video_mode: VideoMode = "auto",
        frames: int = DEFAULT_FRAMES,
        max_consecutive_skips: int = DEFAULT_MAX_CONSECUTIVE_SKIPS,
        on_run: Callable[[dict[str, Any], LoopState], None] | None = None,
    ) -> None:
        self.reference = reference
        self.outputs = outputs
        self.client = client
        self.rules = rules
        self.config = config
        self.journal = journal
        self.batch = max(1, batch)
        self.video_mode = video_mode
        self.frames = frames
        self.max_consecutive_skips = max_consecutive_skips
        self.on_run = on_run
        instances = reference.instances
        ratings = [reference.ratings(i) for i in instances]
        table = MatchingTable.build(ratings, config.alpha, config.uncertainty)
        self.state = LoopState(
            table,
            ratings,
            [i.human_ranks for i in instances],
            config,
            rating_model if rating_model is not None else ThurstoneK(),
        )
        self.state.replay(journal.entries)

    def _consecutive_skips(self) -> int:
        count = 0
        for e in reversed(self.journal.entries):
            if e["type"] != "skip":
                break
            count += 1
        return count

    async def _judge(self, run: int, index: int) -> Verdict | str:
        """The verdict of one run, or the reason it must be skipped."""
        inst = self.reference.instances[index]
        k = inst.k
        shown = swap_permutation(k + 1, self.config.seed, run, self.config.swapping)
        try:
            new_media = await asyncio.to_thread(self.outputs.output_for, inst)
            media = [Media.from_path(p) for p in inst.media] + [new_media]
            label = self.rules.label
            parts = [
                content_parts(media[i], f"{label} {pos + 1}", self.video_mode, self.frames)
                for pos, i in enumerate(shown)
            ]
        except (JudgeUnavailable, ConfigError):
            raise  # the judge is down or the setup is wrong: stop, resumably
        except KarenaError as exc:
            return f"output unavailable: {exc.message}"
        instruction = build_instruction(self.rules, inst.prompt, k + 1)
        try:
            return await self.client.rank(instruction, parts, self.rules.label)
        except UnparseableReply as exc:
            return f"{exc.message}: {exc.detail}"

    async def run(self) -> EvalOutcome:
        """Run until σ < stop_sigma, max runs, or no instance is left; resumable at any point."""
        state = self.state
        skips = self._consecutive_skips()
        skipped = sum(1 for e in self.journal.entries if e["type"] == "skip")
        while (reason := state.stop_reason()) is None:
            picks = state.select(min(self.batch, self.config.max_runs - state.runs))
            base = state.runs
            tasks = [asyncio.create_task(self._judge(base + i, idx)) for i, idx in enumerate(picks)]
            try:
                results = await asyncio.gather(*tasks)
            except BaseException:
                for t in tasks:
                    t.cancel()
                raise
            for offset, (idx, result) in enumerate(zip(picks, results, strict=True)):
                if state.stop_reason() is not None:
                    break  # a batch-mate already stopped the loop; later verdicts are not scored
                entry = self._record(base + offset, idx, result)
                self.journal.append(entry)
                if entry["type"] == "skip":
                    skips += 1
                    skipped += 1
                    log.warning(
                        "run %d skipped (%s): %s", entry["run"], entry["instance"], entry["reason"]
                    )
                else:
                    skips = 0
                if self.on_run is not None:
                    self.on_run(entry, state)
                if skips >= self.max_consecutive_skips:
                    raise UpstreamError(
                        f"stopped after {skips} skipped runs in a row (last: {entry['reason']});"
                        " fix the judge or generator and rerun with --resume"
                    )
        return EvalOutcome(
            state, reason, list(self.journal.entries), skipped, self.client.requests_sent
        )

    def _record(self, run: int, index: int, result: Verdict | str) -> dict[str, Any]:
        """Apply one finished run to the state and return its journal entry."""
        state = self.state
        inst = self.reference.instances[index]
        shown = swap_permutation(inst.k + 1, self.config.seed, run, self.config.swapping)
        base: dict[str, Any] = {"run": run, "instance_index": index, "instance": inst.id}
        if isinstance(result, str):
            state.apply(index, None)
            return {
                **base,
                "type": "skip",
                "reason": result,
                "mu": state.rating.mu,
                "sigma": state.rating.sigma,
            }
        ranks = ranks_from_order(result.order, shown)
        outcome: RunOutcome = state.score(index, ranks)
        state.apply(index, outcome)
        return {
            **base,
            "type": "run",
            "shown": list(shown),
            "judge_order": list(result.order),
            "ranks": list(ranks),
            "human_ranks": list(inst.human_ranks),
            "rho": outcome.rho,
            "lambda": outcome.lam,
            "w": outcome.w,
            "mu_hat": outcome.updated.mu,
            "sigma_hat": outcome.updated.sigma,
            "mu": outcome.rating.mu,
            "sigma": outcome.rating.sigma,
            "reply": result.reply[:500],
            "requests": result.requests,
            "rejected_replies": list(result.rejected_replies),
        }
