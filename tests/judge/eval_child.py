"""Run one evaluation in a child process (the kill-and-resume test SIGKILLs it midway)."""

from __future__ import annotations

import sys
from pathlib import Path

from karena.judge.loop import LoopConfig
from karena.judge.outputs import FolderOutputs
from karena.judge.prompts import IMAGE_RULES
from karena.judge.reference import load_ksort_folder
from karena.judge.run import evaluate
from karena.settings import Settings


def main(root: str, url: str, out: str, resume: str) -> None:
    ref, _ = load_ksort_folder(Path(root))
    evaluate(
        reference=ref,
        outputs=FolderOutputs(Path(root) / "outputs"),
        model_name="newcomer",
        rules=IMAGE_RULES,
        settings=Settings(
            judge_base_url=url,
            judge_model="test-judge",
            judge_api_key_env="KARENA_TEST_JUDGE_KEY_UNSET",
            judge_timeout_seconds=5.0,
        ),
        config=LoopConfig(max_runs=40, seed=7),
        out_dir=Path(out),
        resume=resume == "1",
        client_options={"backoff_base": 0.001},
    )


if __name__ == "__main__":
    main(*sys.argv[1:5])
