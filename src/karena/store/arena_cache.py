"""A worker's cache of what battle planning reads: an arena's catalog and its match state.

Planning a battle reads the arena's models, which prompts each model has an output for, the
ratings, the pair counts and the busy models. Read afresh for every battle, that was about
fifteen statements and most of the CPU of opening a battle. A worker process now keeps:

* the **catalog** (models, prompts with outputs, output ids) until ``arenas.catalog_version``
  moves. Every ORM flush that writes a model, prompt or output bumps the version in the same
  transaction (:func:`bump_catalog_versions`), so a battle checks one integer, in the same
  transaction that inserts it, and never shows a disabled model or an output it cannot serve;
* the **match state** (ratings, pair counts, busy models), re-read at most every
  ``Settings.match_state_max_age_seconds``. A matchmaker that sees ratings a second old picks
  nearly the same battles; the vote path never uses these values (it reads the live rows under
  the arena lock). Battles this worker opened since the last read count as busy at once.
  The pair counts are kept sparse, and a large arena's are re-read less often (at most ~10% of
  the worker's time: :data:`PAIR_RELOAD_FACTOR`).
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from karena.errors import NotFound
from karena.matchmaking.base import MatchState, RatingArrays
from karena.matchmaking.pairs import PairCounts, SparsePairCounts
from karena.rating.registry import rating_model
from karena.rating.types import Rating
from karena.rating.variants import DEFAULT_MARGIN
from karena.store.db import Database
from karena.store.families import arena_beta, paired_share, pending_pairs
from karena.store.models import (
    Arena,
    Battle,
    BattleSlot,
    Model,
    Output,
    PairCount,
    Prompt,
    RatingRow,
)
from karena.store.text import text_key

__all__ = ["ArenaCache", "ArenaCatalog", "ModelRow", "bump_catalog_versions"]


class ModelRow(NamedTuple):
    """The model columns battle planning needs (plain tuples: cheaper than ORM objects)."""

    id: int
    name: str
    enabled: bool
    generator: dict[str, object] | None
    parent_id: int | None = None


class OutputRef(NamedTuple):
    """One output as a battle slot needs it."""

    id: int
    content_type: str
    kind: str


@dataclass(frozen=True, slots=True)
class ArenaCatalog:
    """An arena's configuration and contestants as of ``version``.

    Attributes
    ----------
    models :
        Every model of the arena, by id; matchmaking indexes them 0..n−1 in this order.
    prompt_ids :
        Ids (ascending) of the prompts that have at least one output.
    coverage :
        ``coverage[p, j]``: model ``j`` has an output for prompt ``prompt_ids[p]``.
    """

    id: int
    slug: str
    k: int
    version: int
    rating_model: str
    rating_params: Mapping[str, Any]
    matchmaker: str
    matchmaker_params: Mapping[str, Any]
    models: tuple[ModelRow, ...]
    prompt_ids: npt.NDArray[np.int64]
    prompt_texts: Mapping[int, str]
    coverage: npt.NDArray[np.bool_]
    outputs: Mapping[tuple[int, int], OutputRef]
    index: Mapping[int, int] = field(default_factory=dict)

    def prior(self) -> Rating:
        """The rating of a model without votes."""
        return rating_model(self.rating_model, self.rating_params).initial()


#: With ``max_age`` > 0, an arena's pair counts are re-read no more often than every
#: PAIR_RELOAD_FACTOR × the seconds their last read took, so that re-reading them (10⁵–10⁶ rows
#: at 10⁴ models) takes at most about 1/PAIR_RELOAD_FACTOR of a worker's time. Ratings and busy
#: models are still re-read every ``max_age``; small arenas (reads of milliseconds) see no change.
PAIR_RELOAD_FACTOR = 10.0


@dataclass
class _Entry:
    catalog: ArenaCatalog
    state: MatchState | None = None
    loaded_at: float = float("-inf")
    pairs_loaded_at: float = float("-inf")
    pairs_read_seconds: float = 0.0
    recent_busy: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


@cache
def _version_query() -> Any:
    return select(Arena.id, Arena.catalog_version).where(Arena.slug == bindparam("slug"))


@cache
def _ratings_query() -> Any:
    return select(RatingRow.model_id, RatingRow.mu, RatingRow.sigma).where(
        RatingRow.arena_id == bindparam("arena")
    )


@cache
def _pairs_query() -> Any:
    return select(PairCount.model_a, PairCount.model_b, PairCount.n).where(
        PairCount.arena_id == bindparam("arena")
    )


@cache
def _busy_query() -> Any:
    return (
        select(BattleSlot.model_id)
        .join(Battle, Battle.id == BattleSlot.battle_id)
        .where(
            Battle.arena_id == bindparam("arena"),
            Battle.state == "open",
            Battle.expires_at > bindparam("now"),
        )
        .distinct()
    )


def load_catalog(conn: Connection, arena_id: int) -> ArenaCatalog:
    """Read an arena's catalog (a handful of statements; only when its version moved)."""
    a = conn.execute(select(Arena).where(Arena.id == arena_id)).one()
    models = tuple(
        ModelRow(int(i), str(n), bool(e), g, int(p) if p is not None else None)
        for i, n, e, g, p in conn.execute(
            select(Model.id, Model.name, Model.enabled, Model.generator, Model.parent_id)
            .where(Model.arena_id == arena_id)
            .order_by(Model.id)
        )
    )
    index = {m.id: j for j, m in enumerate(models)}
    rows = conn.execute(
        select(Output.prompt_id, Output.model_id, Output.id, Output.content_type, Output.kind)
        .join(Model, Model.id == Output.model_id)
        .where(Model.arena_id == arena_id)
    ).all()
    prompt_ids = np.array(sorted({int(r[0]) for r in rows}), dtype=np.int64)
    row_of = {int(p): i for i, p in enumerate(prompt_ids)}
    coverage = np.zeros((prompt_ids.size, len(models)), dtype=np.bool_)
    outputs: dict[tuple[int, int], OutputRef] = {}
    for prompt_id, model_id, output_id, content_type, kind in rows:
        coverage[row_of[int(prompt_id)], index[int(model_id)]] = True
        outputs[(int(prompt_id), int(model_id))] = OutputRef(
            int(output_id), str(content_type), str(kind)
        )
    texts = {
        int(pid): str(text)
        for pid, text in conn.execute(
            select(Prompt.id, Prompt.text).where(Prompt.arena_id == arena_id)
        )
        if int(pid) in row_of
    }
    return ArenaCatalog(
        id=int(a.id),
        slug=str(a.slug),
        k=int(a.k),
        version=int(a.catalog_version),
        rating_model=str(a.rating_model),
        rating_params=dict(a.rating_params or {}),
        matchmaker=str(a.matchmaker),
        matchmaker_params=dict(a.matchmaker_params or {}),
        models=models,
        prompt_ids=prompt_ids,
        prompt_texts=texts,
        coverage=coverage,
        outputs=outputs,
        index=index,
    )


def _fetch(
    conn: Connection, statement: Any, params: Mapping[str, Any], dtype: type[np.generic], width: int
) -> npt.NDArray[Any]:
    """The rows of ``statement`` as a (rows, width) array, read straight off the DB-API cursor.

    SQLAlchemy's Row objects are skipped: an arena of 10⁴ models has 10⁵–10⁶ pair rows, and the
    driver building its tuples is then the only per-row work (``np.fromiter`` consumes them in C).
    """
    compiled = _compiled(statement, conn.dialect)
    bound = compiled.construct_params(dict(params))
    args = tuple(bound[k] for k in compiled.positiontup or ()) if compiled.positional else bound
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        chunks: Iterable[Sequence[Any]] = iter(functools.partial(cursor.fetchmany, 65536), [])
        rows = itertools.chain.from_iterable(chunks)
        flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=dtype)
    finally:
        cursor.close()
    return flat.reshape(-1, width)


@functools.lru_cache(maxsize=32)
def _compiled(statement: Any, dialect: Any) -> Any:
    return statement.compile(dialect=dialect)


def _indices(
    ids: npt.NDArray[np.int64], wanted: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Positions in ``ids`` of each id in ``wanted``, and which of them are there at all."""
    if ids.size == 0:
        return np.zeros(wanted.shape, np.int64), np.zeros(wanted.shape, np.bool_)
    sorter = np.argsort(ids, kind="stable")
    pos = np.minimum(np.searchsorted(ids, wanted, sorter=sorter), ids.size - 1)
    found = sorter[pos]
    return found, ids[found] == wanted


def _paired(conn: Connection, catalog: ArenaCatalog, margin: float) -> tuple[tuple[int, int], ...]:
    """Paired mode's waiting (variant, parent) pairs: enabled families without a verdict."""
    if paired_share(catalog.matchmaker_params) <= 0:
        return ()
    families = [
        (j, catalog.index[m.parent_id], m.id, m.parent_id)
        for j, m in enumerate(catalog.models)
        if m.parent_id is not None
        and m.parent_id in catalog.index
        and m.enabled
        and catalog.models[catalog.index[m.parent_id]].enabled
    ]
    if not families:
        return ()
    beta = arena_beta(catalog.rating_model, catalog.rating_params)
    return pending_pairs(conn, catalog.id, families, margin=margin, beta=beta)


def load_match_state(
    conn: Connection,
    catalog: ArenaCatalog,
    now: datetime,
    *,
    pair_counts: PairCounts | None = None,
    paired: tuple[tuple[int, int], ...] | None = None,
    margin: float = DEFAULT_MARGIN,
) -> MatchState:
    """Ratings, pair counts, busy models and waiting variant families of an arena.

    Vectorised: ratings and pair rows go from the cursor into numpy arrays, the pair counts are
    kept sparse (:class:`SparsePairCounts`, with per-model totals), so reading costs O(rows) in C
    and never O(n²) memory. ``pair_counts`` given (a previous read of this catalog's arena) is
    reused instead of reading the pair rows again, and so is ``paired`` (the families whose
    verdict paired mode still waits for: one statement per family, see :mod:`.families`).
    """
    n = len(catalog.models)
    ids = np.fromiter((m.id for m in catalog.models), np.int64, n)
    prior = catalog.prior()
    rated = _fetch(conn, _ratings_query(), {"arena": catalog.id}, np.float64, 3)
    at, known = _indices(ids, rated[:, 0].astype(np.int64))
    mu = np.full(n, prior.mu)
    sigma = np.full(n, prior.sigma)
    mu[at[known]] = rated[known, 1]
    sigma[at[known]] = rated[known, 2]
    if pair_counts is None:
        pairs = _fetch(conn, _pairs_query(), {"arena": catalog.id}, np.int64, 3)
        a, known_a = _indices(ids, pairs[:, 0])
        b, known_b = _indices(ids, pairs[:, 1])
        known = known_a & known_b
        pair_counts = SparsePairCounts.from_pairs(n, a[known], b[known], pairs[known, 2])
    if paired is None:
        paired = _paired(conn, catalog, margin)
    busy = {
        catalog.index[int(mid)]
        for mid in conn.scalars(_busy_query(), {"arena": catalog.id, "now": now})
        if int(mid) in catalog.index
    }
    return MatchState(
        ratings=RatingArrays(mu, sigma),
        pair_counts=pair_counts,
        busy=frozenset(busy),
        disabled=frozenset(j for j, m in enumerate(catalog.models) if not m.enabled),
        paired=paired,
    )


class ArenaCache:
    """Per-process catalogs and match states, keyed by arena slug (thread-safe).

    Parameters
    ----------
    max_age :
        Seconds a match state is reused before it is read again; 0 reads it for every battle.
    clock :
        Monotonic seconds (tests pass a fake one).
    margin :
        δ of the variant verdicts paired mode waits for (``Settings.variant_margin``).
    """

    def __init__(
        self,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
        margin: float = DEFAULT_MARGIN,
    ) -> None:
        self._max_age = max_age
        self._margin = margin
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def version(self, conn: Connection, slug: str) -> int:
        """The arena's catalog version as the database has it now (NotFound)."""
        return self._id_and_version(conn, slug)[1]

    @staticmethod
    def _id_and_version(conn: Connection, slug: str) -> tuple[int, int]:
        row = conn.execute(_version_query(), {"slug": text_key(slug, "arena")}).first()
        if row is None:
            raise NotFound(f"no arena {slug!r}")
        return int(row[0]), int(row[1])

    def catalog(self, conn: Connection, slug: str) -> ArenaCatalog:
        """The arena's catalog, re-read only when its version moved (NotFound)."""
        arena_id, version = self._id_and_version(conn, slug)
        entry = self._entries.get(slug)
        if entry is not None and entry.catalog.version == version and entry.catalog.id == arena_id:
            return entry.catalog
        catalog = load_catalog(conn, arena_id)
        with self._lock:
            self._entries[slug] = _Entry(catalog)
        return catalog

    def cached(self, slug: str) -> ArenaCatalog | None:
        """The catalog last read for ``slug``, without asking the database whether it is current.

        Callers must detect staleness themselves (see ``catalog_version`` guards).
        """
        entry = self._entries.get(slug)
        return entry.catalog if entry is not None else None

    def forget(self, slug: str) -> None:
        """Drop the cached catalog of ``slug`` (a guarded write found it stale)."""
        with self._lock:
            self._entries.pop(slug, None)

    def match_state(self, db: Database, catalog: ArenaCatalog, now: datetime) -> MatchState:
        """The arena's match state, re-read (on a connection of its own) when older than max_age."""
        entry = self._entry(catalog)
        with entry.lock:
            t = self._clock()
            if entry.state is None or t - entry.loaded_at >= self._max_age:
                fresh = t - entry.pairs_loaded_at < PAIR_RELOAD_FACTOR * entry.pairs_read_seconds
                reuse, paired = None, None
                if entry.state is not None and self._max_age > 0 and fresh:
                    reuse, paired = entry.state.pair_counts, entry.state.paired
                started = time.perf_counter()
                with db.read_conn() as conn:
                    entry.state = load_match_state(
                        conn, catalog, now, pair_counts=reuse, paired=paired, margin=self._margin
                    )
                if reuse is None:
                    entry.pairs_loaded_at = t
                    entry.pairs_read_seconds = time.perf_counter() - started
                entry.loaded_at = t
                entry.recent_busy = set()
            state = entry.state
            if not entry.recent_busy:
                return state
            return MatchState(
                state.ratings,
                state.pair_counts,
                state.busy | entry.recent_busy,
                state.disabled,
                state.paired,
            )

    def note_battle(self, catalog: ArenaCatalog, model_ids: Iterable[int]) -> None:
        """Count the models of a battle this worker just opened as busy until the next read."""
        entry = self._entry(catalog)
        with entry.lock:
            entry.recent_busy.update(catalog.index[m] for m in model_ids if m in catalog.index)

    def _entry(self, catalog: ArenaCatalog) -> _Entry:
        entry = self._entries.get(catalog.slug)
        if entry is None or entry.catalog is not catalog:
            # A newer catalog replaced this one meanwhile: plan on the one in hand, unshared.
            return _Entry(catalog)
        return entry


def bump_catalog_versions(session: Session, _context: object, _instances: object) -> None:
    """``before_flush`` hook: a flush that writes models, prompts or outputs bumps their arenas.

    It runs inside the writing transaction, so the new version commits with the change itself.
    """
    arena_ids: set[int] = set()
    model_ids: set[int] = set()
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Model | Prompt):
            arena_ids.add(int(obj.arena_id))
        elif isinstance(obj, Output):
            model_ids.add(int(obj.model_id))
    if model_ids:
        with session.no_autoflush:
            arena_ids.update(
                int(a)
                for a in session.scalars(
                    select(Model.arena_id).where(Model.id.in_(sorted(model_ids)))
                )
            )
    if arena_ids:
        table: Any = Arena.__table__
        session.connection().execute(
            update(table)
            .where(table.c.id.in_(sorted(arena_ids)))
            .values(catalog_version=table.c.catalog_version + 1)
        )
