"""Check a database after a crash: acknowledged votes stored once, ratings equal to a replay."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.reliability.load import AckedVote


@dataclass(frozen=True, slots=True)
class VoteAudit:
    """The comparison of what the clients were told with what the database holds."""

    acked: int
    stored: int
    lost: tuple[str, ...]
    duplicates: tuple[str, ...]
    altered: tuple[str, ...]
    phantoms: tuple[str, ...] = field(default=())


def audit_votes(
    database_url: str,
    arena: str,
    acked: Iterable[AckedVote],
    maybe: Iterable[str] = (),
) -> VoteAudit:
    """Compare acknowledged votes with the stored log.

    ``lost``: acknowledged but absent. ``duplicates``: one battle token stored more than once.
    ``altered``: stored ranks differ from those sent. ``phantoms``: stored votes nobody sent
    (tokens that are neither acknowledged nor in ``maybe``, the votes whose answer was lost).
    """
    from karena.settings import Settings
    from karena.store.api import Store

    store = Store.open(Settings(database_url=database_url), migrate=False)
    try:
        stored = list(store.voting.iter_votes(arena=arena))
    finally:
        store.close()
    counts = Counter(v.token for v in stored)
    ranks = {v.token: tuple(v.ranks) for v in stored}
    acked_list = list(acked)
    acked_tokens = {a.token for a in acked_list}
    allowed = acked_tokens | set(maybe)
    return VoteAudit(
        acked=len(acked_list),
        stored=len(stored),
        lost=tuple(a.token for a in acked_list if a.token not in counts),
        duplicates=tuple(t for t, n in counts.items() if n > 1),
        altered=tuple(
            a.token for a in acked_list if a.token in ranks and ranks[a.token] != a.ranks
        ),
        phantoms=tuple(t for t in counts if t not in allowed),
    )


@dataclass(frozen=True, slots=True)
class RatingRow:
    """One model's stored rating."""

    model: str
    mu: float
    sigma: float
    votes: int


def ratings(database_url: str, arena: str) -> dict[str, RatingRow]:
    """The leaderboard as stored right now, by model name."""
    from karena.settings import Settings
    from karena.store.api import Store

    store = Store.open(Settings(database_url=database_url), migrate=False)
    try:
        rows = store.boards.leaderboard(arena=arena)
    finally:
        store.close()
    return {r.model_name: RatingRow(r.model_name, r.mu, r.sigma, r.votes) for r in rows}


def karena_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120.0) -> str:
    """Run the real ``karena`` command line; raise with its output when it fails."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KARENA_")}
        env["KARENA_DATA_DIR"] = tempfile.mkdtemp(prefix="karena-cli-")
    result = subprocess.run(
        [sys.executable, "-m", "karena.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"karena {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def recompute_matches(database_url: str, arena: str, tolerance: float = 1e-9) -> list[str]:
    """Run ``karena recompute`` and list every rating that moved (empty: incremental == replay)."""
    before = ratings(database_url, arena)
    karena_cli("recompute", "--database-url", database_url, "--arena", arena)
    after = ratings(database_url, arena)
    problems = []
    if set(before) != set(after):
        problems.append(f"models differ: {sorted(before)} vs {sorted(after)}")
    for name in sorted(set(before) & set(after)):
        b, a = before[name], after[name]
        if abs(b.mu - a.mu) > tolerance or abs(b.sigma - a.sigma) > tolerance or b.votes != a.votes:
            problems.append(f"{name}: incremental {b} != recomputed {a}")
    return problems
