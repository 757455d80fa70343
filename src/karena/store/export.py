"""Vote-log export: JSONL, CSV and flat Parquet (loadable by Hugging Face ``datasets``)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from karena.errors import InvalidInput
from karena.store.types import StoredVote

__all__ = ["COLUMNS", "PUBLIC_COLUMNS", "vote_record", "write_votes"]

#: Export columns, in order. List-valued columns hold one entry per display position.
COLUMNS = (
    "seq", "arena", "battle", "prompt_id", "prompt_key", "prompt", "mode", "k", "ranks", "models",
    "model_ids", "output_ids", "output_sha256", "voter_hash", "counted", "battle_created_at",
    "created_at", "client",
)  # fmt: skip
#: The columns of the public export (``GET /api/votes/export``): no content hash beside a model
#: name, which would let a voter who hashes what a battle serves name its models before voting
#: (issue 13, finding 1). The operator's export (``karena export``) keeps every column.
PUBLIC_COLUMNS = tuple(c for c in COLUMNS if c != "output_sha256")


def vote_record(v: StoredVote) -> dict[str, Any]:
    """One export row as plain JSON-able values (times as ISO 8601 UTC)."""
    return {
        "seq": v.seq,
        "arena": v.arena_slug,
        "battle": v.token,
        "prompt_id": v.prompt_id,
        "prompt_key": v.prompt_key,
        "prompt": v.prompt_text,
        "mode": v.mode,
        "k": len(v.ranks),
        "ranks": list(v.ranks),
        "models": list(v.models),
        "model_ids": list(v.model_ids),
        "output_ids": list(v.output_ids),
        "output_sha256": list(v.output_sha256),
        "voter_hash": v.voter_hash,
        "counted": v.counted,
        "battle_created_at": v.battle_created_at.isoformat(),
        "created_at": v.created_at.isoformat(),
        "client": json.dumps(dict(v.client), sort_keys=True, ensure_ascii=False),
    }


def _write_parquet(votes: Iterable[StoredVote], tmp: Path, columns: tuple[str, ...]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("seq", pa.int64()), ("arena", pa.string()), ("battle", pa.string()),
            ("prompt_id", pa.int64()), ("prompt_key", pa.string()), ("prompt", pa.string()),
            ("mode", pa.string()), ("k", pa.int64()), ("ranks", pa.list_(pa.int64())),
            ("models", pa.list_(pa.string())), ("model_ids", pa.list_(pa.int64())),
            ("output_ids", pa.list_(pa.int64())), ("output_sha256", pa.list_(pa.string())),
            ("voter_hash", pa.string()), ("counted", pa.bool_()),
            ("battle_created_at", pa.timestamp("us", tz="UTC")),
            ("created_at", pa.timestamp("us", tz="UTC")), ("client", pa.string()),
        ]
    )  # fmt: skip
    schema = pa.schema([schema.field(c) for c in columns])
    rows = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch.clear()

        for v in votes:
            rec = vote_record(v)
            rec["battle_created_at"] = v.battle_created_at
            rec["created_at"] = v.created_at
            batch.append({c: rec[c] for c in columns})
            rows += 1
            if len(batch) >= 5000:
                flush()
        flush()
    return rows


def write_votes(
    votes: Iterable[StoredVote], path: Path, fmt: str, *, columns: tuple[str, ...] = COLUMNS
) -> int:
    """Write ``votes`` to ``path`` atomically (temp file, then rename); returns rows written.

    ``columns`` (a subset of :data:`COLUMNS`, in its order) are the columns written.
    """
    if fmt not in ("jsonl", "csv", "parquet"):
        raise InvalidInput(f"export format must be jsonl, csv or parquet, got {fmt!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    rows = 0
    try:
        if fmt == "parquet":
            rows = _write_parquet(votes, tmp, columns)
        else:
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns) if fmt == "csv" else None
                if writer is not None:
                    writer.writeheader()
                for v in votes:
                    full = vote_record(v)
                    rec = {c: full[c] for c in columns}
                    if writer is not None:
                        for key in ("ranks", "models", "model_ids", "output_ids", "output_sha256"):
                            if key in rec:
                                rec[key] = json.dumps(rec[key], ensure_ascii=False)
                        writer.writerow(rec)
                    else:
                        fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    rows += 1
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return rows
