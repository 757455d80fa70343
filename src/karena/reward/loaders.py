"""Local loaders (Parquet or JSONL, never the network) that turn preference data into a PairSet.

Sources: the arena's own votes (K-wise votes expanded to pairs), Pick-a-Pic v2-schema files,
HPD v3-style pair or ranking files, and aggregated Chatbot Arena counts (for checks). The
accepted fields are listed in docs/rewards.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from karena.errors import InvalidInput, InvalidVote
from karena.rating.types import Outcome, Ranking, Vote, comparisons, stored_outcome
from karena.reward.pairs import PairSet, PairSetBuilder

__all__ = [
    "FORMATS",
    "load_arena_votes",
    "load_chatbot_arena_counts",
    "load_hpd",
    "load_pairs",
    "load_pickapic",
    "pairs_from_vote_records",
    "pairs_from_votes",
    "read_rows",
]

Format = Literal["auto", "arena-votes", "pickapic", "hpd", "arena-counts"]
FORMATS: tuple[str, ...] = ("auto", "arena-votes", "pickapic", "hpd", "arena-counts")

#: Pick-a-Pic columns we read; the image bytes (jpg_0, jpg_1) are never loaded.
_PICKAPIC_COLUMNS = (
    "caption",
    "model_0",
    "model_1",
    "label_0",
    "label_1",
    "best_image_uid",
    "image_0_uid",
    "image_1_uid",
    "image_0_url",
    "image_1_url",
    "image_0",
    "image_1",
    "has_label",
    "ranking_id",
)
_HPD_COLUMNS = (
    "prompt",
    "caption",
    "path1",
    "path2",
    "model1",
    "model2",
    "image_paths",
    "images",
    "models",
    "rank",
    "ranking",
    "id",
)


def read_rows(path: str | Path, columns: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
    """Yield the rows of a local ``.parquet``, ``.jsonl``/``.ndjson`` or ``.json`` (list) file.

    For Parquet only the named ``columns`` that exist are read, in record batches, so large
    files with embedded image bytes stay cheap.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"no such file: {p}")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(p)
        except Exception as exc:  # pyarrow raises several unrelated types for a bad file
            raise InvalidInput(f"{p} is not a readable Parquet file: {exc}") from exc
        wanted = None
        if columns is not None:
            names = set(pf.schema_arrow.names)
            wanted = [c for c in columns if c in names]
        for batch in pf.iter_batches(batch_size=65536, columns=wanted):
            yield from batch.to_pylist()
    elif suffix in (".jsonl", ".ndjson"):
        with p.open("r", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InvalidInput(f"{p}:{lineno}: not valid JSON: {exc.msg}") from exc
                if not isinstance(row, dict):
                    raise InvalidInput(f"{p}:{lineno}: expected a JSON object per line")
                yield row
    elif suffix == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{p}: not valid JSON: {exc.msg}") from exc
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InvalidInput(f"{p}: expected a JSON list of objects")
        yield from data
    else:
        raise InvalidInput(f"{p}: unsupported file type {suffix!r} (use .parquet or .jsonl)")


def _name(row: Mapping[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{where}: field {key!r} must name a model, got {value!r}")
    return value


def _first_ref(row: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = row.get(key)
        if value is not None and value != "":
            return str(value)
    return None


def _label(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidInput(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def load_pickapic(path: str | Path) -> PairSet:
    """Load a Pick-a-Pic v2-schema file.

    Per row: ``model_0``, ``model_1``; the preference from ``label_0``/``label_1`` (1/0, 0/1, or
    0.5/0.5 for a tie) or, when the labels are absent, ``best_image_uid`` compared with
    ``image_0_uid``/``image_1_uid`` (empty means a tie). Image references come from
    ``image_{0,1}_uid``, else ``image_{0,1}_url``, else ``image_{0,1}``. Rows with
    ``has_label`` false are skipped.
    """
    builder = PairSetBuilder()
    for i, row in enumerate(read_rows(path, _PICKAPIC_COLUMNS)):
        where = f"{path}: row {i}"
        if row.get("has_label") is False:
            continue
        m0, m1 = _name(row, "model_0", where), _name(row, "model_1", where)
        ref0 = _first_ref(row, ("image_0_uid", "image_0_url", "image_0"))
        ref1 = _first_ref(row, ("image_1_uid", "image_1_url", "image_1"))
        if row.get("label_0") is not None or row.get("label_1") is not None:
            l0 = _label(row.get("label_0"), "label_0", where)
            l1 = _label(row.get("label_1"), "label_1", where)
            if (l0, l1) == (1.0, 0.0):
                winner = 0
            elif (l0, l1) == (0.0, 1.0):
                winner = 1
            elif (l0, l1) == (0.5, 0.5):
                winner = -1
            else:
                raise InvalidInput(f"{where}: labels must be 1/0, 0/1 or 0.5/0.5, got {l0}/{l1}")
        elif "best_image_uid" in row:
            best = row.get("best_image_uid")
            if best is None or best == "":
                winner = -1
            elif ref0 is not None and str(best) == row.get("image_0_uid", ref0):
                winner = 0
            elif ref1 is not None and str(best) == row.get("image_1_uid", ref1):
                winner = 1
            else:
                raise InvalidInput(f"{where}: best_image_uid {best!r} matches neither image")
        else:
            raise InvalidInput(f"{where}: needs label_0/label_1 or best_image_uid")
        source = row.get("ranking_id", i)
        caption = row.get("caption")
        if winner == 1:
            builder.add(m1, m0, image_w=ref1, image_l=ref0, caption=caption, source_id=source)
        else:
            builder.add(
                m0, m1, tie=winner == -1, image_w=ref0, image_l=ref1, caption=caption,
                source_id=source,
            )  # fmt: skip
    return _non_empty(builder.build(), path)


def load_hpd(path: str | Path) -> PairSet:
    """Load HPD v3-style preferences: pair rows or ranking rows (both may be mixed).

    Pair row: ``path1`` (preferred), ``path2``, ``model1``, ``model2``, ``prompt``. Ranking row:
    ``image_paths`` (or ``images``), ``models``, ``rank`` (or ``ranking``; 1 = best, equal ranks
    tie) and ``prompt``; it is expanded to all C(K, 2) pairs.
    """
    builder = PairSetBuilder()
    for i, row in enumerate(read_rows(path, _HPD_COLUMNS)):
        where = f"{path}: row {i}"
        prompt = row.get("prompt", row.get("caption"))
        source = row.get("id", i)
        if row.get("path1") is not None or row.get("model1") is not None:
            builder.add(
                _name(row, "model1", where), _name(row, "model2", where),
                image_w=row.get("path1"), image_l=row.get("path2"), caption=prompt,
                source_id=source,
            )  # fmt: skip
            continue
        images = row.get("image_paths", row.get("images"))
        models = row.get("models")
        ranks = row.get("rank", row.get("ranking"))
        if not (isinstance(models, list) and isinstance(ranks, list)):
            raise InvalidInput(f"{where}: needs path1/path2/model1/model2 or models + rank lists")
        if images is None:
            images = [None] * len(models)
        if not len(images) == len(models) == len(ranks):
            raise InvalidInput(f"{where}: images, models and rank lists differ in length")
        try:
            outcome = Ranking(tuple(ranks))
            Vote(tuple(f"{j}" for j in range(len(models))), outcome)
        except InvalidVote as exc:
            raise InvalidInput(f"{where}: {exc.message}") from exc
        names = [_name({"m": m}, "m", where) for m in models]
        for comp in comparisons(outcome):
            builder.add(
                names[comp.winner], names[comp.loser], tie=comp.tie,
                image_w=images[comp.winner], image_l=images[comp.loser], caption=prompt,
                source_id=source,
            )  # fmt: skip
    return _non_empty(builder.build(), path)


def pairs_from_votes(
    votes: Iterable[Vote], *, caption: Callable[[int], str] | None = None
) -> PairSet:
    """Expand arena votes to pairs with :func:`karena.rating.types.comparisons`, in vote order.

    Within a vote the pairs follow ``comparisons`` (position order). Model ids become strings.
    """
    builder = PairSetBuilder()
    for i, vote in enumerate(votes):
        names: list[Hashable] = list(vote.models)
        for comp in comparisons(vote.outcome):
            builder.add(
                str(names[comp.winner]), str(names[comp.loser]), tie=comp.tie, source_id=i,
                caption=caption(i) if caption is not None else None,
            )  # fmt: skip
    return builder.build()


#: Columns of the arena's vote export (``karena`` store export, JSONL or Parquet) that we read.
_ARENA_VOTE_COLUMNS = ("seq", "mode", "ranks", "models", "prompt", "output_sha256", "counted")


def _stored_outcome(mode: object, ranks: list[int], where: str) -> Outcome:
    """The outcome a stored (mode, ranks) stands for, as the store replays it."""
    try:
        return stored_outcome(mode, ranks)
    except InvalidVote as exc:
        raise InvalidInput(f"{where}: {exc.message}") from None


def pairs_from_vote_records(
    records: Iterable[Mapping[str, Any]], *, where: str = "votes"
) -> PairSet:
    """Expand arena vote records (the store's export rows) to pairs, in record (``seq``) order.

    Each record needs ``models`` (K names), ``ranks`` (K ranks, 1 = best) and ``mode``
    (``rank``, ``best``, ``tie`` or ``all_bad``); ``prompt`` becomes the caption and
    ``output_sha256`` the image references. Records with ``counted`` false are skipped. Within a
    vote, pairs follow :func:`karena.rating.types.comparisons` (display-position order).
    """
    builder = PairSetBuilder()
    for i, row in enumerate(records):
        at = f"{where}: row {i}"
        if row.get("counted") is False:
            continue
        models, ranks = row.get("models"), row.get("ranks")
        if not (isinstance(models, list | tuple) and isinstance(ranks, list | tuple)):
            raise InvalidInput(f"{at}: needs 'models' and 'ranks' lists")
        if len(models) != len(ranks):
            raise InvalidInput(f"{at}: {len(models)} models but {len(ranks)} ranks")
        outcome = _stored_outcome(row.get("mode"), list(ranks), at)
        try:
            Vote(tuple(str(m) for m in models), outcome)
        except InvalidVote as exc:
            raise InvalidInput(f"{at}: {exc.message}") from exc
        refs = row.get("output_sha256")
        refs = list(refs) if isinstance(refs, list | tuple) else [None] * len(models)
        source = row.get("seq", i)
        for comp in comparisons(outcome):
            builder.add(
                str(models[comp.winner]), str(models[comp.loser]), tie=comp.tie,
                image_w=refs[comp.winner], image_l=refs[comp.loser], caption=row.get("prompt"),
                source_id=source,
            )  # fmt: skip
    return builder.build()


def load_arena_votes(path: str | Path) -> PairSet:
    """Load an arena vote export (``karena`` store export as JSONL or Parquet) as pairs."""
    pairs = pairs_from_vote_records(read_rows(path, _ARENA_VOTE_COLUMNS), where=str(path))
    return _non_empty(pairs, path)


def load_chatbot_arena_counts(path: str | Path) -> PairSet:
    """Expand aggregated counts ``{"models", "X": [[i, j]], "Y": [[w_i, w_j, ties, both_bad]]}``.

    Order (documented, deterministic): pair rows in file order; within a row, the ``w_i`` wins
    of i, then the ``w_j`` wins of j, then ``ties + both_bad`` ties ("both bad" is a tie, as in
    :func:`karena.rating.types.comparisons`). The file has no timestamps, so a data-order pass
    would see each pair's votes in one block: fit with shuffled passes instead.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"no such file: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        models = tuple(str(m) for m in data["models"])
        x = np.asarray(data["X"], dtype=np.int64).reshape(-1, 2)
        y = np.asarray(data["Y"], dtype=np.int64).reshape(-1, 4)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{p}: not an aggregated-counts file ({exc})") from exc
    if len(x) != len(y) or (y < 0).any():
        raise InvalidInput(f"{p}: X and Y must have equal length and non-negative counts")
    if len(x) and (x.min() < 0 or x.max() >= len(models)):
        raise InvalidInput(f"{p}: a model index in X is out of range")
    blocks = np.stack([y[:, 0], y[:, 1], y[:, 2] + y[:, 3]], axis=1).ravel()
    first = np.repeat(np.stack([x[:, 0], x[:, 1], x[:, 0]], axis=1).ravel(), blocks)
    second = np.repeat(np.stack([x[:, 1], x[:, 0], x[:, 1]], axis=1).ravel(), blocks)
    tie = np.repeat(np.tile([False, False, True], len(x)), blocks)
    return _non_empty(PairSet(models=models, winner=first, loser=second, tie=tie), path)


def load_pairs(path: str | Path, fmt: Format = "auto") -> PairSet:
    """Load any supported file; ``auto`` picks the format from the file's fields."""
    if fmt == "arena-votes":
        return load_arena_votes(path)
    if fmt == "pickapic":
        return load_pickapic(path)
    if fmt == "hpd":
        return load_hpd(path)
    if fmt == "arena-counts":
        return load_chatbot_arena_counts(path)
    if fmt != "auto":
        raise InvalidInput(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return load_pairs(path, _sniff(Path(path)))


def _sniff(path: Path) -> Format:
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    if path.suffix.lower() == ".json":
        with path.open("r", encoding="utf-8") as fh:
            head = fh.read(4096)
        if head.lstrip().startswith("{") and '"models"' in head:
            return "arena-counts"
    first = next(read_rows(path), None)
    if first is None:
        raise InvalidInput(f"{path}: the file has no rows")
    if "ranks" in first and "mode" in first:
        return "arena-votes"
    if "model_0" in first:
        return "pickapic"
    if "model1" in first or "models" in first:
        return "hpd"
    raise InvalidInput(
        f"{path}: cannot tell the format from fields {sorted(first)[:8]}; pass --format"
    )


def _non_empty(pairs: PairSet, path: str | Path) -> PairSet:
    if len(pairs) == 0:
        raise InvalidInput(f"{path}: no preference pairs found")
    return pairs
