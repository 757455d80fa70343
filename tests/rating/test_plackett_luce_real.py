"""Plackett–Luce on real 6-way rankings: AGIQA-3K (../shared/data; skipped when absent).

Each prompt gives one ranking of six text-to-image models by human mean opinion score. The PL
order must agree with the plainest independent summary of the same table, each model's mean
score over the same images: Kendall τ ≥ 0.85 (at most one adjacent swap among six) and the same
best model.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from karena.errors import InvalidInput, NotFound
from karena.rating.data import load_agiqa3k_rankings
from karena.rating.plackett_luce import fit_plackett_luce

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "agiqa3k.csv"


def mean_scores(column: str) -> dict[str, float]:
    totals: dict[str, list[float]] = defaultdict(list)
    with DATA.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            model, variant, _ = row["name"].rsplit("_", 2)
            if variant == "normal":
                totals[model].append(float(row[column]))
    return {m: float(np.mean(v)) for m, v in totals.items()}


@pytest.mark.parametrize(
    ("score", "column"), [("quality", "mos_quality"), ("alignment", "mos_align")]
)
def test_plackett_luce_order_matches_mean_opinion_scores(score: str, column: str) -> None:
    if not DATA.is_file():
        pytest.skip(f"AGIQA-3K data absent at {DATA}")
    models, rankings = load_agiqa3k_rankings(DATA, score)  # type: ignore[arg-type]
    assert len(models) == 6 and len(rankings) == 300  # one ranking per prompt (data README)
    fit = fit_plackett_luce(rankings, len(models), models=models)
    means = mean_scores(column)
    reference = np.array([means[m] for m in models])
    assert stats.kendalltau(fit.ratings, reference).statistic >= 0.85
    assert fit.order()[0] == max(means, key=lambda m: means[m])


def test_loader_reports_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_agiqa3k_rankings(tmp_path / "absent.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,prompt,mos_quality,mos_align\nA_normal_000.jpg,p,high,1\n")
    with pytest.raises(InvalidInput):
        load_agiqa3k_rankings(bad)
    lonely = tmp_path / "lonely.csv"
    lonely.write_text("name,prompt,mos_quality,mos_align\nA_normal_000.jpg,p,1,1\n")
    with pytest.raises(InvalidInput, match="two or more"):
        load_agiqa3k_rankings(lonely)
    tied = tmp_path / "tied.csv"
    tied.write_text(
        "name,prompt,mos_quality,mos_align\n"
        "A_normal_000.jpg,p,2,1\nB_normal_000.jpg,p,2,1\nC_normal_000.jpg,p,1,1\n"
        "C_lowstep_000.jpg,p,9,9\n"
    )
    assert load_agiqa3k_rankings(tied) == (("A", "B", "C"), [[(0, 1), (2,)]])
