"""Voter reliability from the vote log: the admin report, and the batch board's weights.

The estimator is :func:`karena.rating.voters.fit_voter_reliability` (latent classes: honest,
blind, partisan for or against one model); this module reads what it needs from the log (each
counted vote's models, outcome and voter hash, in one lean statement) and shapes its answer.

**The batch board's hook.** :func:`batch_board_weights` is the one call the batch board makes:
given the counted votes it fits and their voter hashes, in the same order, it returns the
weight of each vote, or None (every vote counts once) while
``Settings.batch_board_weight_voters`` is off, the default.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection, select

from karena.rating.types import Vote, stored_outcome
from karena.rating.voters import VoterFit, fit_voter_reliability
from karena.settings import Settings
from karena.store.models import Arena, BannedVoter, Model, VoteRow
from karena.store.types import VoterReliability, VoterReport

__all__ = ["batch_board_weights", "counted_votes", "voter_report"]


def batch_board_weights(
    settings: Settings, votes: Sequence[Vote], voter_hashes: Sequence[str]
) -> list[float] | None:
    """The batch board's vote weights: None (all 1) unless ``batch_board_weight_voters``.

    Call it with the votes the board fits and their voter hashes, in the same order, and pass
    the result as ``fit_batch_board(votes, weights=...)``. A vote's weight is the probability
    that it was cast honestly (:class:`~karena.rating.voters.VoterFit`.weights).
    """
    if not settings.batch_board_weight_voters or not votes:
        return None
    fit = fit_voter_reliability(votes, voter_hashes)
    return [float(w) for w in fit.weights]


def counted_votes(
    conn: Connection, arena_id: int, *, recent: int | None = None
) -> tuple[list[Vote], list[str]]:
    """The arena's counted votes (all, or the ``recent`` last) with their voter hashes."""
    query = select(VoteRow.model_ids, VoteRow.mode, VoteRow.ranks, VoteRow.voter_hash).where(
        VoteRow.arena_id == arena_id, VoteRow.counted.is_(True)
    )
    if recent is not None:
        query = query.order_by(VoteRow.seq.desc()).limit(recent)
    votes, hashes = [], []
    for model_ids, mode, ranks, voter in conn.execute(query):
        votes.append(Vote(tuple(int(m) for m in model_ids), stored_outcome(mode, ranks)))
        hashes.append(str(voter))
    return votes, hashes


def _rows(conn: Connection, fit: VoterFit, order: np.ndarray) -> tuple[VoterReliability, ...]:
    names = dict(
        conn.execute(select(Model.id, Model.name).where(Model.id.in_(list(fit.models)))).all()
    )
    hashes = [str(fit.voters[i]) for i in order]
    banned = set(
        conn.scalars(select(BannedVoter.voter_hash).where(BannedVoter.voter_hash.in_(hashes)))
    )
    out = []
    for i, voter in zip(order, hashes, strict=True):
        model = int(fit.suspect[i])
        suspect = names.get(int(str(fit.models[model])), "?") if model >= 0 else None
        out.append(
            VoterReliability(
                voter_hash=voter,
                votes=int(fit.votes[i]),
                reliability=float(fit.reliability[i]),
                blind=float(fit.blind[i]),
                suspect=suspect,
                direction=None if model < 0 else ("up" if fit.suspect_sign[i] > 0 else "down"),
                suspect_probability=float(fit.suspect_prob[i]) if model >= 0 else 0.0,
                banned=voter in banned,
            )
        )
    return tuple(out)


def voter_report(
    conn: Connection, arena: Arena, *, limit: int, offset: int = 0, recent: int | None = None
) -> VoterReport:
    """The arena's voters, least reliable first (ties: more votes first), one page of them."""
    votes, hashes = counted_votes(conn, arena.id, recent=recent)
    fit = fit_voter_reliability(votes, hashes)
    order = np.lexsort((-fit.votes, fit.reliability))[offset : offset + limit]
    return VoterReport(
        arena_slug=arena.slug,
        voters_total=len(fit.voters),
        votes=len(votes),
        mix=fit.mix,
        iterations=fit.iterations,
        converged=fit.converged,
        voters=_rows(conn, fit, order),
    )
