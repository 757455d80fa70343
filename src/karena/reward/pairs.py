"""The input every ArenaPO step shares: a table of pairwise preferences that names the models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from karena.errors import InvalidInput

__all__ = ["PairSet", "PairSetBuilder"]

#: Optional per-pair text columns a loader may fill (``None`` where a source lacks them).
META_COLUMNS = ("caption", "image_w", "image_l", "source_id")


@dataclass(frozen=True, slots=True)
class PairSet:
    """Pairwise preferences, one row per pair, in data order.

    Row ``i`` says image ``image_w[i]`` of model ``models[winner[i]]`` beat image ``image_l[i]``
    of model ``models[loser[i]]``; when ``tie[i]`` the two tied and ``winner``/``loser`` keep the
    order the source listed them in. ``meta`` holds optional object arrays (caption, image refs,
    source row id) of the same length.
    """

    models: tuple[str, ...]
    winner: NDArray[np.int64]
    loser: NDArray[np.int64]
    tie: NDArray[np.bool_]
    meta: Mapping[str, NDArray[np.object_]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.winner)
        if len(self.loser) != n or len(self.tie) != n:
            raise InvalidInput("winner, loser and tie must have the same length")
        for name, column in self.meta.items():
            if len(column) != n:
                raise InvalidInput(f"meta column {name!r} has {len(column)} rows, expected {n}")
        if n and (self.winner.min() < 0 or self.loser.min() < 0):
            raise InvalidInput("model indices must be non-negative")
        if n and max(int(self.winner.max()), int(self.loser.max())) >= len(self.models):
            raise InvalidInput("a model index is out of range of the model list")

    def __len__(self) -> int:
        return len(self.winner)

    @property
    def n_models(self) -> int:
        return len(self.models)

    def take(self, rows: NDArray[np.int64]) -> PairSet:
        """The rows ``rows`` (an index array), in that order; the model list is kept."""
        return PairSet(
            models=self.models,
            winner=self.winner[rows],
            loser=self.loser[rows],
            tie=self.tie[rows],
            meta={k: v[rows] for k, v in self.meta.items()},
        )

    @staticmethod
    def from_names(
        winners: Sequence[str],
        losers: Sequence[str],
        ties: Sequence[bool] | None = None,
        meta: Mapping[str, Sequence[object]] | None = None,
    ) -> PairSet:
        """Build from model names; models are indexed in order of first appearance."""
        builder = PairSetBuilder()
        tie_flags = ties if ties is not None else [False] * len(winners)
        columns = meta if meta is not None else {}
        for i, (w, lo, t) in enumerate(zip(winners, losers, tie_flags, strict=True)):
            builder.add(w, lo, tie=bool(t), **{k: v[i] for k, v in columns.items()})
        return builder.build()


class PairSetBuilder:
    """Collects rows one at a time (for the streaming loaders), then freezes a :class:`PairSet`."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self._winner: list[int] = []
        self._loser: list[int] = []
        self._tie: list[bool] = []
        self._meta: dict[str, list[object]] = {name: [] for name in META_COLUMNS}

    def model_id(self, name: str) -> int:
        """The index of model ``name``, allocating the next one on first sight."""
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"model name must be a non-empty string, got {name!r}")
        idx = self._index.get(name)
        if idx is None:
            idx = len(self._index)
            self._index[name] = idx
        return idx

    def add(self, winner: str, loser: str, *, tie: bool = False, **meta: object) -> None:
        """Append one pair: ``winner`` beat ``loser`` (or they tied)."""
        self._winner.append(self.model_id(winner))
        self._loser.append(self.model_id(loser))
        self._tie.append(tie)
        for name in META_COLUMNS:
            self._meta[name].append(meta.get(name))
        unknown = set(meta) - set(META_COLUMNS)
        if unknown:
            raise InvalidInput(f"unknown pair columns {sorted(unknown)!r}")

    def build(self) -> PairSet:
        """Freeze the rows collected so far; meta columns that are all missing are dropped."""
        meta: dict[str, NDArray[np.object_]] = {}
        for name, values in self._meta.items():
            if any(v is not None for v in values):
                column = np.empty(len(values), dtype=object)
                column[:] = values
                meta[name] = column
        return PairSet(
            models=tuple(self._index),
            winner=np.asarray(self._winner, dtype=np.int64),
            loser=np.asarray(self._loser, dtype=np.int64),
            tie=np.asarray(self._tie, dtype=bool),
            meta=meta,
        )
