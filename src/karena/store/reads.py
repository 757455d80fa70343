"""Read models built from the vote log: export rows, model pages, judge instances, reward pairs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from karena.media.storage import MediaStore
from karena.rating.leaderboard import LeaderboardRow
from karena.rating.types import comparisons, stored_outcome
from karena.store.convert import model_info
from karena.store.db import Database
from karena.store.lookups import find_arena
from karena.store.models import Arena, Battle, BattleSlot, Model, Output, Prompt, VoteRow
from karena.store.types import (
    ModelBattle,
    ModelPage,
    OpponentStats,
    PairVote,
    ReferenceBattle,
    StoredVote,
)

__all__ = ["iter_votes", "model_page", "pair_votes", "reference_battles", "stored_votes"]


def _names(s: Session, arena_id: int) -> dict[int, str]:
    return dict(s.execute(select(Model.id, Model.name).where(Model.arena_id == arena_id)).all())


def stored_votes(s: Session, arena: Arena, votes: Sequence[VoteRow]) -> list[StoredVote]:
    """Flatten votes with their battle, prompt, models and outputs (a few bulk queries)."""
    if not votes:
        return []
    battle_ids = [v.battle_id for v in votes]
    battles = {b.id: b for b in s.scalars(select(Battle).where(Battle.id.in_(battle_ids)))}
    prompts = {
        p.id: p
        for p in s.scalars(
            select(Prompt).where(Prompt.id.in_({b.prompt_id for b in battles.values()}))
        )
    }
    slots: dict[int, list[tuple[int, int, str]]] = {}
    for battle_id, _pos, output_id, sha in s.execute(
        select(BattleSlot.battle_id, BattleSlot.position, Output.id, Output.sha256)
        .join(Output, Output.id == BattleSlot.output_id)
        .where(BattleSlot.battle_id.in_(battle_ids))
        .order_by(BattleSlot.battle_id, BattleSlot.position)
    ):
        slots.setdefault(battle_id, []).append((_pos, output_id, sha))
    names = _names(s, arena.id)
    out = []
    for v in votes:
        b = battles[v.battle_id]
        p = prompts[b.prompt_id]
        slot_rows = slots.get(v.battle_id, [])
        out.append(
            StoredVote(
                seq=v.seq,
                arena_slug=arena.slug,
                token=b.token,
                prompt_id=p.id,
                prompt_key=p.key,
                prompt_text=p.text,
                mode=v.mode,
                ranks=tuple(int(r) for r in v.ranks),
                model_ids=tuple(int(m) for m in v.model_ids),
                models=tuple(names.get(int(m), "?") for m in v.model_ids),
                output_ids=tuple(o for _, o, _ in slot_rows),
                output_sha256=tuple(h for _, _, h in slot_rows),
                voter_hash=v.voter_hash,
                counted=v.counted,
                battle_created_at=b.created_at,
                created_at=v.created_at,
                client=dict(v.client or {}),
            )
        )
    return out


def iter_votes(
    db: Database, arena: str, *, counted_only: bool = False, category: str | None = None
) -> Iterator[StoredVote]:
    """Every vote of an arena in sequence order, streamed in batches (a transaction each).

    ``category``: only the votes on prompts of that category.
    """
    after = 0
    while True:
        with db.read() as s:
            a = find_arena(s, arena)
            query = select(VoteRow).where(VoteRow.arena_id == a.id, VoteRow.seq > after)
            if counted_only:
                query = query.where(VoteRow.counted.is_(True))
            if category is not None:
                query = (
                    query.join(Battle, Battle.id == VoteRow.battle_id)
                    .join(Prompt, Prompt.id == Battle.prompt_id)
                    .where(Prompt.category == category)
                )
            votes = list(s.scalars(query.order_by(VoteRow.seq).limit(1000)))
            if not votes:
                return
            batch = stored_votes(s, a, votes)
        yield from batch
        after = batch[-1].seq


def model_page(
    s: Session, arena: Arena, model: Model, row: LeaderboardRow | None, *, offset: int, limit: int
) -> ModelPage:
    """A model's voted battles (newest first) and its head-to-head record from counted votes."""
    involving = (
        select(VoteRow)
        .join(BattleSlot, BattleSlot.battle_id == VoteRow.battle_id)
        .where(VoteRow.arena_id == arena.id, BattleSlot.model_id == model.id)
    )
    total = s.scalar(select(func.count()).select_from(involving.subquery()))
    page = list(s.scalars(involving.order_by(VoteRow.seq.desc()).offset(offset).limit(limit)))
    names = _names(s, arena.id)
    flat = {v.seq: v for v in stored_votes(s, arena, page)}
    battles = []
    for v in page:
        sv = flat[v.seq]
        me = [int(m) for m in v.model_ids].index(model.id)
        battles.append(
            ModelBattle(
                seq=v.seq,
                token=sv.token,
                prompt_text=sv.prompt_text,
                created_at=v.created_at,
                opponents=tuple(n for i, n in enumerate(sv.models) if i != me),
                rank=int(v.ranks[me]),
                ranks=sv.ranks,
                models=sv.models,
                mode=v.mode,
            )
        )
    record: dict[int, list[int]] = {}
    for v in s.scalars(involving.where(VoteRow.counted.is_(True)).order_by(VoteRow.seq)):
        ids = [int(m) for m in v.model_ids]
        me = ids.index(model.id)
        for c in comparisons(stored_outcome(v.mode, v.ranks)):
            if me not in (c.winner, c.loser):
                continue
            other = ids[c.loser if c.winner == me else c.winner]
            wlt = record.setdefault(other, [0, 0, 0])
            wlt[2 if c.tie else (0 if c.winner == me else 1)] += 1
    opponents = tuple(
        OpponentStats(opponent_id=o, opponent_name=names.get(o, "?"), wins=w, losses=lo, ties=t)
        for o, (w, lo, t) in sorted(record.items(), key=lambda kv: names.get(kv[0], ""))
    )
    return ModelPage(
        model=model_info(model),
        arena_slug=arena.slug,
        row=row,
        battles=tuple(battles),
        battles_total=int(total or 0),
        opponents=opponents,
    )


def reference_battles(
    s: Session, arena: Arena, media: MediaStore, *, limit: int | None, modes: tuple[str, ...]
) -> tuple[ReferenceBattle, ...]:
    """Counted votes of the given modes with readable media paths, in sequence order."""
    query = (
        select(VoteRow)
        .where(VoteRow.arena_id == arena.id, VoteRow.counted.is_(True), VoteRow.mode.in_(modes))
        .order_by(VoteRow.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    votes = list(s.scalars(query))
    flat = stored_votes(s, arena, votes)
    types = dict(
        s.execute(
            select(Output.id, Output.content_type).where(
                Output.id.in_({o for sv in flat for o in sv.output_ids})
            )
        ).all()
    )
    return tuple(
        ReferenceBattle(
            seq=sv.seq,
            prompt_text=sv.prompt_text,
            models=sv.models,
            model_ids=sv.model_ids,
            output_ids=sv.output_ids,
            content_types=tuple(types[o] for o in sv.output_ids),
            media_paths=tuple(
                media.path_for(h, types[o])
                for o, h in zip(sv.output_ids, sv.output_sha256, strict=True)
            ),
            ranks=sv.ranks,
            mode=sv.mode,
        )
        for sv in flat
    )


def pair_votes(votes: Iterable[StoredVote]) -> Iterator[PairVote]:
    """Each counted vote as its pairwise facts; ``a`` is always the earlier display position."""
    for sv in votes:
        for c in comparisons(stored_outcome(sv.mode, sv.ranks)):
            i, j = sorted((c.winner, c.loser))
            winner: str = "tie" if c.tie else ("a" if c.winner == i else "b")
            yield PairVote(
                seq=sv.seq,
                prompt_id=sv.prompt_id,
                prompt_text=sv.prompt_text,
                model_a=sv.models[i],
                model_b=sv.models[j],
                output_a=sv.output_ids[i],
                output_b=sv.output_ids[j],
                winner=winner,  # type: ignore[arg-type]
                mode=sv.mode,
            )
