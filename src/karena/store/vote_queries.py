"""The Core statements of the vote path, built once: the battle to vote on, and abuse state.

Voting reads everything that can refuse a vote in one statement (the battle, its slots with
model names, its arena, any vote, and the voter's or the address's ban), holding no lock.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, exists, or_, select

from karena.store.models import (
    Arena,
    BannedAddress,
    BannedVoter,
    Battle,
    BattleSlot,
    Model,
    VoteRow,
)

__all__ = ["abuse_columns", "battle_for_vote_statement"]

#: The tables as Core objects: the hot paths run on a bare connection, not the ORM.
BATTLES: Any = Battle.__table__
BATTLE_SLOTS: Any = BattleSlot.__table__
VOTES: Any = VoteRow.__table__


@cache
def battle_for_vote_statement(by_address: bool) -> Any:
    """The battle a token names: one row per slot, with its arena, any vote and ban state."""
    return (
        select(
            *abuse_columns(by_address),
            BATTLES.c.id,
            BATTLES.c.arena_id,
            BATTLES.c.voter_hash,
            BATTLES.c.created_at,
            BATTLES.c.expires_at,
            Arena.slug.label("arena_slug"),
            VOTES.c.id.label("vote_id"),
            BATTLE_SLOTS.c.model_id,
            Model.name.label("model_name"),
        )
        .join(Arena, Arena.id == BATTLES.c.arena_id)
        .join(BATTLE_SLOTS, BATTLE_SLOTS.c.battle_id == BATTLES.c.id)
        .join(Model, Model.id == BATTLE_SLOTS.c.model_id)
        .outerjoin(VOTES, VOTES.c.battle_id == BATTLES.c.id)
        .where(BATTLES.c.token == bindparam("token"))
        .order_by(BATTLE_SLOTS.c.position)
    )


@cache
def abuse_columns(by_address: bool) -> tuple[Any, ...]:
    """Banned? The voter (bound ``voter``), or with ``by_address`` the address (``address``).

    Votes per minute are not counted here: the rate limits are taken atomically when the vote
    is recorded (:mod:`karena.store.rate_limits`).
    """
    banned: Any = exists().where(BannedVoter.voter_hash == bindparam("voter"))
    if by_address:
        banned = or_(banned, exists().where(BannedAddress.address_hash == bindparam("address")))
    return (banned.label("banned"),)
