"""Variant families: parents, head-to-head records against them, verdicts, paired mode.

A model may declare a parent in its arena (``models.parent_id``, revision 0006). The maths of
the record and the verdict is :mod:`karena.rating.variants`; this module reads the records from
the vote log: for a model page from the records it already has against every opponent, and for
paired mode (:class:`~karena.matchmaking.paired.PairedMatchmaker`) with one statement per family
over the votes that showed both models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, aliased

from karena.errors import Conflict, InvalidInput
from karena.rating.models.thurstone import DEFAULT_BETA
from karena.rating.registry import rating_model
from karena.rating.types import comparisons, stored_outcome
from karena.rating.variants import head_to_head
from karena.store.models import BattleSlot, Model, VoteRow
from karena.store.types import FamilyRecord, ModelFamily, OpponentStats

__all__ = [
    "arena_beta",
    "check_parent",
    "model_family",
    "paired_share",
    "pending_pairs",
    "record_between",
]


def arena_beta(rating_model_name: str, params: Mapping[str, Any] | None) -> float:
    """β of the arena's rating model (the scale of the gap), or the default for models without."""
    beta = getattr(rating_model(rating_model_name, dict(params or {})), "beta", DEFAULT_BETA)
    return float(beta) if isinstance(beta, int | float) and beta > 0 else DEFAULT_BETA


def paired_share(matchmaker_params: Mapping[str, Any]) -> float:
    """The arena's paired-mode share (0: off), from its matchmaker's ``paired`` option."""
    share = matchmaker_params.get("paired", 0.0)
    return float(share) if isinstance(share, int | float) and not isinstance(share, bool) else 0.0


def check_parent(session: Session, model: Model, parent: Model | None) -> None:
    """Refuse a parent from another arena, the model itself, or one that would close a cycle."""
    if parent is None:
        return
    if parent.arena_id != model.arena_id:
        raise InvalidInput("a model's parent must be a model of the same arena")
    seen = {model.id}
    node: Model | None = parent
    while node is not None:
        if node.id in seen:  # the request is valid; the family as it stands refuses it: 409
            raise Conflict(
                f"{parent.name!r} cannot be the parent of {model.name!r}: "
                "it would make the family a cycle"
            )
        seen.add(node.id)
        node = session.get(Model, node.parent_id) if node.parent_id is not None else None


def _record(stats: OpponentStats | None, *, flip: bool) -> tuple[int, int, int]:
    if stats is None:
        return 0, 0, 0
    if flip:
        return stats.losses, stats.wins, stats.ties
    return stats.wins, stats.losses, stats.ties


def model_family(
    session: Session,
    model: Model,
    opponents: Sequence[OpponentStats],
    *,
    margin: float,
    beta: float,
) -> ModelFamily | None:
    """The model's record against its parent and each of its variants' records against it.

    ``opponents`` are the model's head-to-head records (the model page has them). A record is
    always read from the variant's side. None when the model has neither parent nor variants.
    """
    by_id = {o.opponent_id: o for o in opponents}
    parent = session.get(Model, model.parent_id) if model.parent_id is not None else None
    children = list(
        session.scalars(select(Model).where(Model.parent_id == model.id).order_by(Model.name))
    )
    if parent is None and not children:
        return None
    up = None
    if parent is not None:
        w, lo, t = _record(by_id.get(parent.id), flip=False)
        up = FamilyRecord(model.name, parent.name, head_to_head(w, lo, t, margin=margin, beta=beta))
    down = []
    for child in children:
        w, lo, t = _record(by_id.get(child.id), flip=True)
        down.append(
            FamilyRecord(child.name, model.name, head_to_head(w, lo, t, margin=margin, beta=beta))
        )
    return ModelFamily(parent=up, variants=tuple(down))


def record_between(conn: Connection, arena_id: int, variant: int, parent: int) -> tuple[int, ...]:
    """(wins, losses, ties) of ``variant`` against ``parent`` over the counted votes of both."""
    a, b = aliased(BattleSlot), aliased(BattleSlot)
    rows = conn.execute(
        select(VoteRow.mode, VoteRow.ranks, a.position, b.position)
        .join(a, a.battle_id == VoteRow.battle_id)
        .join(b, b.battle_id == VoteRow.battle_id)
        .where(
            VoteRow.arena_id == arena_id,
            VoteRow.counted.is_(True),
            a.model_id == variant,
            b.model_id == parent,
        )
    )
    wlt = [0, 0, 0]
    for mode, ranks, pa, pb in rows:
        for c in comparisons(stored_outcome(mode, ranks)):
            if {c.winner, c.loser} == {pa, pb}:
                wlt[2 if c.tie else (0 if c.winner == pa else 1)] += 1
    return tuple(wlt)


def pending_pairs(
    conn: Connection,
    arena_id: int,
    families: Sequence[tuple[int, int, int, int]],
    *,
    margin: float,
    beta: float,
) -> tuple[tuple[int, int], ...]:
    """The (variant, parent) index pairs whose verdict is still "undecided".

    ``families`` holds (variant index, parent index, variant id, parent id) of the enabled
    families; one statement each reads its record.
    """
    waiting = []
    for vi, pi, vid, pid in families:
        w, lo, t = record_between(conn, arena_id, vid, pid)
        if head_to_head(w, lo, t, margin=margin, beta=beta).verdict == "undecided":
            waiting.append((vi, pi))
    return tuple(waiting)
