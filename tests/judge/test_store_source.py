"""The arena's stored battles as the reference set (real SQLite store), evaluated end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from karena.errors import InvalidInput
from karena.judge.loop import LoopConfig
from karena.judge.outputs import FolderOutputs, prompt_key
from karena.judge.prompts import IMAGE_RULES
from karena.judge.run import evaluate
from karena.judge.store_source import load_from_store
from karena.settings import Settings
from tests.judge.dataset import red_of
from tests.judge.judge_server import Behaviour, judge_server, quality_image

pytestmark = pytest.mark.timeout(180)

MUS = [16.0, 18.0, 20.0, 22.0, 24.0, 26.0, 28.0, 30.0]


def _arena(tmp_path: Path, n_votes: int = 48) -> tuple[Settings, Path]:
    from karena.store.api import Store

    settings = Settings(data_dir=tmp_path / "data", min_vote_seconds=0, rate_limit_per_minute=0)
    outputs = tmp_path / "new-model"
    outputs.mkdir()
    rng = np.random.default_rng(5)
    with Store.open(settings) as store:
        store.catalog.create_arena(slug="img", modality="image", k=4)
        for i in range(len(MUS)):
            store.catalog.add_model(arena="img", name=f"M{i}")
        for v in range(n_votes):
            text = f"arena prompt {v}"
            prompt = store.catalog.add_prompt(arena="img", text=text)
            pick = [int(x) for x in rng.choice(len(MUS), 4, replace=False)]
            for j in pick:
                store.catalog.add_output(
                    arena="img", model=f"M{j}", prompt_key=prompt.key,
                    data=quality_image(red_of(MUS[j]), size=16),
                )  # fmt: skip
            ranks = [int(r) + 1 for r in np.argsort(np.argsort([-MUS[j] for j in pick]))]
            if v % 8 == 7:  # a voter who ranked backwards: the filter must drop these
                ranks = [5 - r for r in ranks]
            store.voting.import_vote(
                arena="img", prompt_key=prompt.key, models=[f"M{j}" for j in pick],
                ranks=ranks, source="test",
            )  # fmt: skip
            (outputs / f"{prompt_key(text)}.jpg").write_bytes(
                quality_image(red_of(MUS[4]), size=16)
            )
    return settings, outputs


def test_store_source_keeps_only_battles_that_agree_with_the_board(tmp_path: Path) -> None:
    from karena.store.api import Store

    settings, outputs = _arena(tmp_path)
    with Store.open(settings) as store:
        ref, counts = load_from_store(store, arena="img")
        with pytest.raises(InvalidInput, match="no voted battle"):
            load_from_store(store, arena="img", min_agreement=1.0)
    assert counts["battles"] == 48 and counts["disagree"] == 6 and counts["kept"] == 42
    assert len(ref.instances) == 42 and ref.source == "arena:img"
    assert all(p.is_file() for inst in ref.instances for p in inst.media)
    assert ref.board["M7"].mu > ref.board["M4"].mu > ref.board["M0"].mu
    with judge_server(Behaviour(noise=2.0)) as (url, _log):
        summary = evaluate(
            reference=ref,
            outputs=FolderOutputs(outputs),
            model_name="newcomer",
            rules=IMAGE_RULES,
            settings=Settings(judge_base_url=url, judge_model="t", judge_api_key_env="UNSET_KEY_X"),
            config=LoopConfig(max_runs=42),
            out_dir=tmp_path / "out",
            client_options={"backoff_base": 0.001},
        )
    # The new model's outputs look exactly like M4's: it must land next to M4 on the board.
    m4 = ref.board["M4"].conservative
    m4_rank = 1 + sum(r.conservative > m4 for r in ref.board.values())
    assert abs(summary.placement.rank_paper - m4_rank) <= 1
