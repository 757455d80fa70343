"""Run K-Sort Eval against a judge backend, journaling every finished run.

The evaluator is the same for both methods (:mod:`karena.judge.methods`) and any backend
(:mod:`karena.judge.backends`): pick instances, fetch the new model's output, show the K+1
outputs in a swapped order, ask the judge, map its order back, let the method score it, journal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from karena.errors import ConfigError, KarenaError, UnsupportedMedia, UpstreamError
from karena.judge.backends import JudgeBackend, JudgeRequest, JudgeUnavailable, Verdict
from karena.judge.journal import Journal
from karena.judge.loop import ranks_from_order, swap_permutation
from karena.judge.media import Media
from karena.judge.methods import Placer
from karena.judge.outputs import OutputSource
from karena.judge.parsing import UnparseableReply
from karena.judge.prompts import RuleSet, build_instruction
from karena.judge.reference import ReferenceSet

__all__ = ["EvalOutcome", "Evaluator", "journal_header"]

log = logging.getLogger("karena.judge")

#: Stop (resumably) after this many skipped runs in a row: the judge or generator is broken.
DEFAULT_MAX_CONSECUTIVE_SKIPS = 10


@dataclass
class EvalOutcome:
    """How an evaluation ended, with its state and journal entries."""

    state: Placer
    stop_reason: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    judge_requests: int = 0


def journal_header(
    reference: ReferenceSet,
    model_name: str,
    method: str,
    config: dict[str, Any],
    rules: RuleSet,
    judge_model: str,
) -> dict[str, Any]:
    """What a resumed evaluation must share with the one that wrote the journal."""
    return {
        "model": model_name,
        "reference": reference.fingerprint(),
        "instances": len(reference.instances),
        "modality": reference.modality,
        "judge_model": judge_model,
        "rules": rules.to_dict(),
        "method": method,
        "config": config,
    }


class Evaluator:
    """Place one new model: select, generate, judge (swapped), score, journal."""

    def __init__(
        self,
        *,
        reference: ReferenceSet,
        outputs: OutputSource,
        judge: JudgeBackend,
        rules: RuleSet,
        placer: Placer,
        journal: Journal,
        batch: int = 1,
        max_consecutive_skips: int = DEFAULT_MAX_CONSECUTIVE_SKIPS,
        on_run: Callable[[dict[str, Any], Placer], None] | None = None,
    ) -> None:
        self.reference = reference
        self.outputs = outputs
        self.judge = judge
        self.rules = rules
        self.journal = journal
        self.batch = max(1, batch)
        self.max_consecutive_skips = max_consecutive_skips
        self.on_run = on_run
        self.state = placer
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
        shown = swap_permutation(k + 1, self.state.seed, run, self.state.swapping)
        try:
            new_media = await asyncio.to_thread(self.outputs.output_for, inst)
            media = [Media.from_path(p) for p in inst.media] + [new_media]
        except (JudgeUnavailable, ConfigError):
            raise  # the judge is down or the setup is wrong: stop, resumably
        except KarenaError as exc:
            return f"output unavailable: {exc.message}"
        request = JudgeRequest(
            inst.prompt,
            build_instruction(self.rules, inst.prompt, k + 1),
            tuple(media[i] for i in shown),
            self.rules.label,
        )
        try:
            return await self.judge.rank(request)
        except UnparseableReply as exc:
            return f"{exc.message}: {exc.detail}"
        except UnsupportedMedia as exc:  # e.g. a clip the backend cannot decode into frames
            return f"output unavailable: {exc.message}"

    async def run(self) -> EvalOutcome:
        """Run until the method's stop rule, max runs, or no instance is left; resumable."""
        state = self.state
        skips = self._consecutive_skips()
        skipped = sum(1 for e in self.journal.entries if e["type"] == "skip")
        while (reason := state.stop_reason()) is None:
            picks = state.select(min(self.batch, state.max_runs - state.runs))
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
            state, reason, list(self.journal.entries), skipped, self.judge.requests_sent
        )

    def _record(self, run: int, index: int, result: Verdict | str) -> dict[str, Any]:
        """Apply one finished run to the state and return its journal entry."""
        state = self.state
        inst = self.reference.instances[index]
        shown = swap_permutation(inst.k + 1, state.seed, run, state.swapping)
        base: dict[str, Any] = {"run": run, "instance_index": index, "instance": inst.id}
        if isinstance(result, str):
            return {**base, "type": "skip", "reason": result, **state.record(index, None)}
        ranks = ranks_from_order(result.order, shown)
        scored = state.record(index, ranks)
        return {
            **base,
            "type": "run",
            "shown": list(shown),
            "judge_order": list(result.order),
            "ranks": list(ranks),
            "human_ranks": list(inst.human_ranks),
            **scored,
            "reply": result.reply[:500],
            "requests": result.requests,
            "rejected_replies": list(result.rejected_replies),
        }
