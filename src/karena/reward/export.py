"""Per-pair rewards (Parquet, JSONL) and a summary (capability table, gap histogram PNG)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from karena.errors import InvalidInput
from karena.reward.capabilities import Capabilities
from karena.reward.gaps import normalise_gaps, pair_gaps
from karena.reward.pairs import PairSet

__all__ = [
    "REWARD_COLUMNS",
    "RewardTable",
    "compute_rewards",
    "read_rewards",
    "write_jsonl",
    "write_parquet",
    "write_summary",
]

#: Columns of an exported rewards file, in order (meta columns follow when present).
REWARD_COLUMNS = (
    "pair",
    "model_w",
    "model_l",
    "tie",
    "mu_w",
    "mu_l",
    "gap_m",
    "gap_s",
    "gap_mean",
    "gap_var",
    "gap_norm",
)


@dataclass(frozen=True, slots=True)
class RewardTable:
    """Per-pair rewards as named columns of equal length."""

    columns: dict[str, NDArray[np.generic]]

    def __len__(self) -> int:
        return len(self.columns["pair"])

    def rows(self, start: int = 0, stop: int | None = None) -> Iterator[dict[str, object]]:
        """Rows as plain-Python dicts (for JSONL)."""
        end = stop if stop is not None else len(self)
        names = list(self.columns)
        lists = [self.columns[n][start:end].tolist() for n in names]
        for values in zip(*lists, strict=True):
            yield dict(zip(names, values, strict=True))


def compute_rewards(pairs: PairSet, caps: Capabilities) -> RewardTable:
    """The gap moments and normalised gap of every pair (METHODS §3.2 step 2, reconstructed)."""
    if caps.models != pairs.models:
        raise InvalidInput("capabilities were fitted on a different model list")
    moments = pair_gaps(caps.mu, caps.sigma, pairs.winner, pairs.loser, pairs.tie, caps.beta)
    names = np.asarray(pairs.models, dtype=object)
    same = pairs.winner == pairs.loser
    s2 = caps.sigma[pairs.winner] ** 2 + caps.sigma[pairs.loser] ** 2
    columns: dict[str, NDArray[np.generic]] = {
        "pair": np.arange(len(pairs), dtype=np.int64),
        "model_w": names[pairs.winner],
        "model_l": names[pairs.loser],
        "tie": pairs.tie,
        "mu_w": caps.mu[pairs.winner],
        "mu_l": caps.mu[pairs.loser],
        "gap_m": caps.mu[pairs.winner] - caps.mu[pairs.loser],
        "gap_s": np.sqrt(np.where(same, 0.0, s2) + 2.0 * caps.beta**2),
        "gap_mean": moments.mean,
        "gap_var": moments.var,
        "gap_norm": normalise_gaps(moments.mean, pairs.tie),
    }
    for name, values in pairs.meta.items():
        columns[name] = np.array([None if v is None else str(v) for v in values], dtype=object)
    return RewardTable(columns)


def write_parquet(table: RewardTable, path: str | Path) -> Path:
    """Write the table as one Parquet file (strings as UTF-8, floats as float64)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name, values in table.columns.items():
        if values.dtype == object:
            arrays[name] = pa.array(values.tolist(), type=pa.string())
        else:
            arrays[name] = pa.array(values)
    pq.write_table(pa.table(arrays), out)
    return out


def write_jsonl(
    table: RewardTable,
    path: str | Path,
    *,
    chunk: int = 100_000,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write one JSON object per line, in pair order."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for start in range(0, len(table), chunk):
            stop = min(start + chunk, len(table))
            fh.writelines(json.dumps(row) + "\n" for row in table.rows(start, stop))
            if progress is not None:
                progress(stop - start)
    return out


def read_rewards(path: str | Path) -> RewardTable:
    """Read an exported rewards file (Parquet or JSONL) back into columns."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"no such rewards file: {p}")
    if p.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        data = pq.read_table(p).to_pydict()
    else:
        from karena.reward.loaders import read_rows

        rows = list(read_rows(p))
        data = {k: [r.get(k) for r in rows] for k in (rows[0] if rows else {})}
    missing = [c for c in REWARD_COLUMNS if c not in data]
    if missing:
        raise InvalidInput(f"{p}: not a karena rewards file (missing {', '.join(missing)})")
    columns: dict[str, NDArray[np.generic]] = {}
    for name, values in data.items():
        arr = np.asarray(values)
        if arr.dtype.kind in "US":
            arr = np.asarray(values, dtype=object)
        columns[name] = arr
    return RewardTable(columns)


def write_summary(caps: Capabilities, table: RewardTable, out_dir: str | Path) -> list[Path]:
    """Write capabilities.csv, capabilities.md, gaps_hist.png and summary.json into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = caps.table()
    csv_path = out / "capabilities.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    md_path = out / "capabilities.md"
    lines = ["| rank | model | μ | σ | μ − 3σ | pairs |", "|---:|---|---:|---:|---:|---:|"]
    lines += [
        f"| {r['rank']} | {r['model']} | {r['mu']:.3f} | {r['sigma']:.3f} | "
        f"{r['conservative']:.3f} | {r['pairs']} |"
        for r in rows
    ]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    tie = np.asarray(table.columns["tie"], dtype=bool)
    gaps = np.asarray(table.columns["gap_mean"], dtype=np.float64)[~tie]
    png_path = out / "gaps_hist.png"
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    if len(gaps):
        ax.hist(gaps, bins=min(100, max(10, int(math.sqrt(len(gaps))))), color="#3a6ea5")
    ax.set_xlabel("E[Δ | Δ > 0] (rating units)")
    ax.set_ylabel("pairs")
    ax.set_title(f"ArenaPO gaps: {len(gaps):,} untied pairs, {int(tie.sum()):,} ties")
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)

    summary = {
        "pairs": len(table),
        "ties": int(tie.sum()),
        "models": len(caps.models),
        "traversal": caps.traversal,
        "passes": int(caps.pass_mu.shape[0]),
        "beta": caps.beta,
        "gap_mean": _stats(gaps),
    }
    json_path = out / "summary.json"
    json_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return [csv_path, md_path, png_path, json_path]


def _stats(values: NDArray[np.float64]) -> dict[str, float]:
    if len(values) == 0:
        return {}
    q = np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0])
    return {
        "mean": float(values.mean()),
        "min": float(q[0]),
        "q25": float(q[1]),
        "median": float(q[2]),
        "q75": float(q[3]),
        "max": float(q[4]),
    }
