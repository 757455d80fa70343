"""The Core statements of the vote path, built once: the battle to vote on, and abuse state.

Voting reads everything that can refuse a vote in one statement (the battle, its slots with
model names, its arena, any vote, and the voter's ban and recent votes), holding no lock.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, exists, func, literal, select

from karena.store.models import Arena, BannedVoter, Battle, BattleSlot, Model, VoteRow

__all__ = ["abuse_columns", "battle_for_vote_statement"]

#: The tables as Core objects: the hot paths run on a bare connection, not the ORM.
BATTLES: Any = Battle.__table__
BATTLE_SLOTS: Any = BattleSlot.__table__
VOTES: Any = VoteRow.__table__


@cache
def battle_for_vote_statement(by_voter: bool, by_address: bool) -> Any:
    """The battle a token names: one row per slot, with its arena, any vote and abuse state."""
    return (
        select(
            *abuse_columns(by_voter, by_address),
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


def _recent_votes(column: Any, param: str, since: Any) -> Any:
    """Votes in the window whose ``column`` equals the bound ``param``."""
    return (
        select(func.count())
        .select_from(VOTES)
        .where(column == bindparam(param), VOTES.c.created_at > since)
        .scalar_subquery()
    )


@cache
def abuse_columns(by_voter: bool, by_address: bool) -> tuple[Any, ...]:
    """Banned?, recent votes by the voter, recent votes by the address (0 when not limited)."""
    since = bindparam("since", type_=VOTES.c.created_at.type)
    recent = _recent_votes(VOTES.c.voter_hash, "voter", since) if by_voter else literal(0)
    from_address = (
        _recent_votes(VOTES.c.address_hash, "address", since) if by_address else literal(0)
    )
    banned = exists().where(BannedVoter.voter_hash == bindparam("voter"))
    return (
        banned.label("banned"),
        recent.label("recent"),
        from_address.label("from_address"),
    )
