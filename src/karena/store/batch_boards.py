"""The stored batch boards: reading the votes to fit, the workers' claim, the fit, the rows.

An arena's batch boards (the overall one, category ``""``, and one per prompt category) are
refitted together: :func:`board_votes` reads every counted vote with its voter hash and its
prompt's category in one statement, :func:`fit_boards` fits them with no transaction open, and
:func:`save_boards` writes the rows in one short transaction. Nothing here takes the arena lock,
so a vote never waits for a fit.

**The claim.** Several workers over one database each run a refresher. Before it reads the
votes a worker claims the arena with one conditional UPDATE of the overall row's
``fitting_since`` (set only where it is empty or older than ``batch_board_claim_seconds``); the
database lets exactly one of them see a changed row, and the others skip the arena.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from karena.rating.batch_board import BatchBoard, fit_batch_board
from karena.rating.leaderboard import LeaderboardRow
from karena.rating.types import Vote, stored_outcome
from karena.settings import Settings
from karena.store.models import BatchBoardRow, Battle, Prompt, VoteRow
from karena.store.voter_reliability import batch_board_weights

__all__ = [
    "OVERALL",
    "FitBoards",
    "board_rows",
    "board_votes",
    "claim_arena",
    "fit_boards",
    "is_due",
    "release_arena",
    "save_boards",
]

#: The category key of an arena's overall board.
OVERALL = ""

_TABLE: Any = BatchBoardRow.__table__

#: What runs a fit: :func:`fit_boards` itself, or a wrapper that runs it elsewhere (the web
#: app's refresher runs it in a child process).
FitBoards = Callable[..., "dict[str, BatchBoard]"]


def is_due(
    settings: Settings,
    *,
    vote_seq: int,
    board_seq: int | None,
    fitted_at: datetime | None,
    now: datetime,
) -> bool:
    """Whether an arena's boards should be refitted now (the refresher's throttle).

    Never fitted: as soon as the arena has a vote. Then: once ``batch_board_min_new_votes``
    votes came in since the last fit and ``batch_board_min_interval_seconds`` passed.
    """
    if fitted_at is None or board_seq is None:
        return vote_seq > 0
    new = vote_seq - board_seq
    waited = (now - fitted_at).total_seconds()
    return (
        new >= settings.batch_board_min_new_votes
        and waited >= settings.batch_board_min_interval_seconds
    )


def claim_arena(conn: Connection, arena_id: int, *, now: datetime, stale_before: datetime) -> bool:
    """Claim the arena for one fit (a conditional UPDATE); True if this caller holds it now.

    The caller commits at once, so the claim is visible to every other worker.
    """
    try:
        with conn.begin_nested():
            conn.execute(
                insert(_TABLE),
                {
                    "arena_id": arena_id, "category": OVERALL, "rows": [], "votes": 0,
                    "vote_seq": 0, "rounds": 0, "weighted": False, "seconds": 0.0,
                    "fitted_at": None, "fitting_since": None,
                },
            )  # fmt: skip
    except IntegrityError:
        pass  # the row is there already (or another worker inserted it just now)
    result = conn.execute(
        update(_TABLE)
        .where(
            _TABLE.c.arena_id == arena_id,
            _TABLE.c.category == OVERALL,
            or_(_TABLE.c.fitting_since.is_(None), _TABLE.c.fitting_since < stale_before),
        )
        .values(fitting_since=now)
    )
    return bool(result.rowcount == 1)


def release_arena(conn: Connection, arena_id: int) -> None:
    """Drop this worker's claim (after a failed fit; :func:`save_boards` drops it otherwise)."""
    conn.execute(
        update(_TABLE)
        .where(_TABLE.c.arena_id == arena_id, _TABLE.c.category == OVERALL)
        .values(fitting_since=None)
    )


def board_votes(conn: Connection, arena_id: int) -> tuple[list[Vote], list[str], list[str]]:
    """The arena's counted votes in ``seq`` order, their voter hashes and prompt categories."""
    query = (
        select(VoteRow.model_ids, VoteRow.mode, VoteRow.ranks, VoteRow.voter_hash, Prompt.category)
        .join(Battle, Battle.id == VoteRow.battle_id)
        .join(Prompt, Prompt.id == Battle.prompt_id)
        .where(VoteRow.arena_id == arena_id, VoteRow.counted.is_(True))
        .order_by(VoteRow.seq)
    )
    votes: list[Vote] = []
    hashes: list[str] = []
    categories: list[str] = []
    for model_ids, mode, ranks, voter, category in conn.execute(query):
        votes.append(Vote(tuple(int(m) for m in model_ids), stored_outcome(mode, ranks)))
        hashes.append(str(voter))
        categories.append(str(category or ""))
    return votes, hashes, categories


def fit_boards(
    settings: Settings,
    votes: Sequence[Vote],
    hashes: Sequence[str],
    categories: Sequence[str],
    *,
    models: Sequence[Hashable],
) -> dict[str, BatchBoard]:
    """The overall board (every model of the arena) and one board per prompt category.

    The vote weights come from the one hook, :func:`batch_board_weights`, called once on all
    the counted votes: a voter's reliability is a property of the voter, estimated on every
    vote they cast, and each category's board uses the weights of its own votes. A category
    board shows the models that took part in its votes.
    """
    weights = batch_board_weights(settings, votes, hashes)
    rounds = settings.batch_board_rounds
    boards = {OVERALL: fit_batch_board(votes, models=models, rounds=rounds, weights=weights)}
    by_category: dict[str, list[int]] = {}
    for i, category in enumerate(categories):
        if category:
            by_category.setdefault(category, []).append(i)
    for category, picked in sorted(by_category.items()):
        boards[category] = fit_batch_board(
            [votes[i] for i in picked],
            rounds=rounds,
            weights=None if weights is None else [weights[i] for i in picked],
        )
    return boards


def _row_json(row: LeaderboardRow) -> dict[str, object]:
    return {
        "model_id": int(row.model_id),  # type: ignore[call-overload]
        "rank": int(row.rank),
        "score": float(row.score),
        "mu": float(row.mu),
        "sigma": float(row.sigma),
        "ci_low": float(row.ci_low),
        "ci_high": float(row.ci_high),
        "votes": int(row.votes),
        "provisional": bool(row.provisional),
        "rank_ub": None if row.rank_ub is None else int(row.rank_ub),
    }


def save_boards(
    conn: Connection,
    arena_id: int,
    boards: Mapping[str, BatchBoard],
    *,
    vote_seq: int,
    weighted: bool,
    seconds: float,
    now: datetime,
) -> None:
    """Replace the arena's stored boards with ``boards`` and drop the claim (one transaction)."""
    conn.execute(delete(_TABLE).where(_TABLE.c.arena_id == arena_id, _TABLE.c.category != OVERALL))
    values = {
        category: {
            "rows": [_row_json(r) for r in board.rows],
            "votes": board.votes,
            "vote_seq": vote_seq,
            "rounds": board.rounds,
            "weighted": weighted,
            "seconds": seconds,
            "fitted_at": now,
            "fitting_since": None,
        }
        for category, board in boards.items()
    }
    overall = values.pop(OVERALL)
    done = conn.execute(
        update(_TABLE)
        .where(_TABLE.c.arena_id == arena_id, _TABLE.c.category == OVERALL)
        .values(**overall)
    )
    if done.rowcount == 0:  # the claim row went away (a forced refit after a reset)
        conn.execute(insert(_TABLE), {"arena_id": arena_id, "category": OVERALL, **overall})
    if values:
        conn.execute(
            insert(_TABLE),
            [{"arena_id": arena_id, "category": c, **v} for c, v in values.items()],
        )


def board_rows(
    stored: Sequence[Mapping[str, Any]],
    names: Mapping[int, str],
    catalog: Mapping[int, tuple[str, str, bool]],
    fitted_at: datetime | None,
) -> tuple[LeaderboardRow, ...]:
    """Stored rows as leaderboard rows, with today's names and catalog fields.

    ``catalog`` gives (organization, link, enabled) by model id; a model deleted since the fit
    is left out.
    """
    out = []
    for r in stored:
        mid = int(r["model_id"])
        if mid not in names:
            continue
        organization, link, enabled = catalog[mid]
        out.append(
            LeaderboardRow(
                rank=int(r["rank"]),
                model_id=mid,
                model_name=names[mid],
                score=float(r["score"]),
                mu=float(r["mu"]),
                sigma=float(r["sigma"]),
                ci_low=float(r["ci_low"]),
                ci_high=float(r["ci_high"]),
                votes=int(r["votes"]),
                provisional=bool(r["provisional"]),
                organization=organization,
                link=link,
                enabled=enabled,
                last_updated=fitted_at,
                rank_ub=None if r.get("rank_ub") is None else int(r["rank_ub"]),
            )
        )
    return tuple(out)
