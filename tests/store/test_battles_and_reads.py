"""Battles (complete, anonymous, matchmaker-driven) and the read side: board, pages, export."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from karena.errors import Conflict, InvalidInput, NotFound
from karena.store import Store
from tests.conftest import SeededArena, TestClock, png_bytes, seed_arena


def _cast(store: Store, clock: TestClock, arena: str, n: int) -> None:
    patterns: list[dict[str, object]] = [
        {"mode": "rank", "ranks": [1, 2, 3, 4]},
        {"mode": "best", "winner": 0},
        {"mode": "rank", "ranks": [2, 2, 1, 4]},
        {"mode": "all_bad"},
    ]
    for i in range(n):
        b = store.battles.create_battle(arena=arena, seed=1000 + i)
        clock.advance(3)
        store.voting.submit_vote(token=b.token, voter_id=f"v{i % 3}", **patterns[i % 4])
        clock.advance(20)


def test_battle_never_has_a_missing_output(store: Store, clock: TestClock) -> None:
    store.catalog.create_arena(slug="sparse", k=3)
    for i in range(5):
        store.catalog.add_model(arena="sparse", name=f"m{i}")
    for j in range(4):
        store.catalog.add_prompt(arena="sparse", text=f"prompt {j}", key=f"p{j}")
    # Prompt p0: everyone; p1: only m0..m2; p2: only m3, m4 (never complete); p3: nobody.
    coverage = {"p0": range(5), "p1": range(3), "p2": (3, 4)}
    for key, models in coverage.items():
        for i in models:
            store.catalog.add_output(
                arena="sparse",
                model=f"m{i}",
                prompt_key=key,
                data=png_bytes((i * 40, int(key[1]) * 50, 0)),
            )
    for seed in range(25):
        b = store.battles.create_battle(arena="sparse", seed=seed)
        assert b.prompt_text in ("prompt 0", "prompt 1")
        for slot in b.slots:
            blob = store.battles.battle_media(token=b.token, position=slot.position)
            assert blob.data[:4] == b"\x89PNG" and blob.content_type == "image/png"
        clock.advance(3)
        store.voting.submit_vote(token=b.token, mode="tie", voter_id=f"v{seed}")
        clock.advance(3)


def test_disabled_models_are_never_matched(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    store.catalog.set_model_enabled(arena=seeded.slug, name="model-0", enabled=False)
    store.catalog.set_model_enabled(arena=seeded.slug, name="model-1", enabled=False)
    for seed in range(15):
        b = store.battles.create_battle(arena=seeded.slug, seed=seed)
        clock.advance(3)
        r = store.voting.submit_vote(token=b.token, mode="tie", voter_id=f"v{seed}")
        assert {c.model_name for c in r.contestants} == {"model-2", "model-3", "model-4", "model-5"}
    store.catalog.set_model_enabled(arena=seeded.slug, name="model-2", enabled=False)
    with pytest.raises(NotFound, match="enabled models"):
        store.battles.create_battle(arena=seeded.slug)
    board = {r.model_name: r for r in store.boards.leaderboard(arena=seeded.slug)}
    assert not board["model-0"].enabled
    assert len(store.boards.leaderboard(arena=seeded.slug, include_disabled=False)) == 3


def test_battle_view_reveals_no_identity(store: Store, seeded: SeededArena) -> None:
    b = store.battles.create_battle(arena=seeded.slug, seed=3)
    text = json.dumps(asdict(b), default=str)
    for name in seeded.models:
        assert name not in text
    assert [s.label for s in b.slots] == ["A", "B", "C", "D"]
    assert len(b.token) >= 32 and b.state == "open"
    with pytest.raises(NotFound):
        store.battles.battle_media(token=b.token, position=7)
    with pytest.raises(NotFound):
        store.battles.battle_media(token="nope", position=0)


def test_new_models_enter_first_with_the_ucb_matchmaker(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    _cast(store, clock, seeded.slug, 12)
    store.catalog.add_model(arena=seeded.slug, name="newcomer")
    for key in seeded.prompt_keys:
        store.catalog.add_output(
            arena=seeded.slug,
            model="newcomer",
            prompt_key=key,
            data=png_bytes((255, 255, int(key[1]))),
        )
    b = store.battles.create_battle(arena=seeded.slug, seed=99)
    clock.advance(3)
    r = store.voting.submit_vote(token=b.token, mode="tie", voter_id="x")
    assert "newcomer" in {c.model_name for c in r.contestants}  # the least-compared pivot


def test_leaderboard_rows(store: Store, seeded: SeededArena, clock: TestClock) -> None:
    _cast(store, clock, seeded.slug, 16)
    rows = store.boards.leaderboard(arena=seeded.slug)
    assert [r.rank for r in rows] == list(range(1, 7))
    scores = [r.score for r in rows]
    assert scores == sorted(scores, reverse=True)
    for r in rows:
        assert r.score == pytest.approx(r.mu - 3 * r.sigma)
        assert r.ci_low < r.mu < r.ci_high
        assert r.ci_high - r.mu == pytest.approx(1.959963984540054 * r.sigma)
        assert r.provisional == (r.sigma > store.settings.provisional_sigma or r.votes == 0)
    assert sum(r.votes for r in rows) == 16 * 4
    assert all(r.last_updated is not None for r in rows if r.votes)


def test_model_page(store: Store, seeded: SeededArena, clock: TestClock) -> None:
    _cast(store, clock, seeded.slug, 12)
    page = store.boards.model_page(arena=seeded.slug, name="model-0", limit=5)
    assert page.model.name == "model-0" and page.row is not None
    assert page.battles_total == page.row.votes and len(page.battles) <= 5
    assert [b.seq for b in page.battles] == sorted((b.seq for b in page.battles), reverse=True)
    for b in page.battles:
        assert "model-0" in b.models and "model-0" not in b.opponents
    for opp in page.opponents:
        assert opp.opponent_name != "model-0" and 0 <= opp.win_rate <= 1
    pairs = [
        p for p in store.boards.pair_votes(arena=seeded.slug) if "model-0" in (p.model_a, p.model_b)
    ]
    assert sum(o.battles for o in page.opponents) == len(pairs)


def test_pair_votes_decompose_each_mode(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    _cast(store, clock, seeded.slug, 4)  # rank, best, rank with a tie, all bad
    pairs = store.boards.pair_votes(arena=seeded.slug)
    by_seq: dict[int, list[str]] = {}
    for p in pairs:
        by_seq.setdefault(p.seq, []).append(p.winner)
    assert sorted(by_seq[1]) == ["a"] * 6  # 1 < 2 < 3 < 4 in display order
    assert len(by_seq[2]) == 3 and set(by_seq[2]) == {"a"}  # best of 4: the winner's 3 pairs
    assert sorted(by_seq[3]) == ["a", "a", "a", "b", "b", "tie"]
    assert by_seq[4] == ["tie"] * 6


def test_reference_battles_have_full_rankings(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    _cast(store, clock, seeded.slug, 8)
    refs = store.boards.reference_battles(arena=seeded.slug)
    assert [r.mode for r in refs] == ["rank"] * 4
    for r in refs:
        assert len(r.models) == len(r.media_paths) == len(r.ranks) == 4
        assert all(p.read_bytes()[:4] == b"\x89PNG" for p in r.media_paths)
    assert len(store.boards.reference_battles(arena=seeded.slug, limit=1)) == 1


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_formats(
    store: Store, seeded: SeededArena, clock: TestClock, tmp_path: Path, fmt: str
) -> None:
    _cast(store, clock, seeded.slug, 6)
    path = tmp_path / f"votes.{fmt}"
    assert store.voting.export_votes(arena=seeded.slug, path=path, fmt=fmt) == 6  # type: ignore[arg-type]
    if fmt == "jsonl":
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert rows[0]["ranks"] == [1, 2, 3, 4] and len(rows[0]["models"]) == 4
    elif fmt == "csv":
        rows = list(csv.DictReader(path.open()))
        assert json.loads(rows[1]["ranks"]) == [1, 2, 2, 2] and rows[1]["mode"] == "best"
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        assert table.num_rows == 6
        # Flat: scalars and lists of scalars only, no structs, so `datasets` loads it as is.
        for field in table.schema:
            assert not pa.types.is_struct(field.type)
            if pa.types.is_list(field.type):
                assert not pa.types.is_nested(field.type.value_type)
        assert table.column("seq").to_pylist() == list(range(1, 7))
    assert [v.seq for v in store.voting.iter_votes(arena=seeded.slug)] == list(range(1, 7))
    assert all(len(v.voter_hash) == 64 for v in store.voting.iter_votes(arena=seeded.slug))


def test_listing_is_paginated(store: Store, seeded: SeededArena, clock: TestClock) -> None:
    _cast(store, clock, seeded.slug, 5)
    page = store.voting.list_votes(arena=seeded.slug, offset=2, limit=2)
    assert page.total == 5 and [v.seq for v in page.items] == [3, 4]
    with pytest.raises(InvalidInput):
        store.voting.list_votes(arena=seeded.slug, limit=0)
    with pytest.raises(InvalidInput):
        store.catalog.list_prompts(arena=seeded.slug, offset=-1)


def test_admin_validation(store: Store, seeded: SeededArena) -> None:
    with pytest.raises(Conflict):
        store.catalog.create_arena(slug=seeded.slug)
    assert store.catalog.create_arena(slug=seeded.slug, exist_ok=True).slug == seeded.slug
    for slug in ("Bad Slug", "../x", "", "a" * 65):
        with pytest.raises(InvalidInput):
            store.catalog.create_arena(slug=slug)
    with pytest.raises(InvalidInput):
        store.catalog.create_arena(slug="k9", k=9)
    with pytest.raises(Conflict):
        store.catalog.add_model(arena=seeded.slug, name="model-0")
    for bad in ("", "   ", "evil\u202ename", "tab\tname", "x" * 201):
        with pytest.raises(InvalidInput):
            store.catalog.add_model(arena=seeded.slug, name=bad)
    # Unicode names are normalised (NFC) and kept.
    m = store.catalog.add_model(arena=seeded.slug, name="Cafe\u0301 模型 🎨")
    assert m.name == "Café 模型 🎨"
    assert store.catalog.get_model(arena=seeded.slug, name="Café 模型 🎨").id == m.id
    assert store.catalog.get_model(arena=seeded.slug, name="Cafe\u0301 模型 🎨 ").id == m.id
    with pytest.raises(InvalidInput):
        store.catalog.add_prompt(arena=seeded.slug, text="x" * 5000)
    with pytest.raises(InvalidInput):
        store.catalog.add_prompt(arena=seeded.slug, text="bell \x07 char")
    p = store.catalog.add_prompt(arena=seeded.slug, text="<script>alert(1)</script>")
    assert p.text == "<script>alert(1)</script>"  # stored verbatim; escaping is the page's job
    with pytest.raises(Conflict):
        store.catalog.add_prompt(arena=seeded.slug, text="something else", key=p.key)
    with pytest.raises(NotFound):
        store.catalog.get_arena(slug="nope")
    with pytest.raises(Conflict):
        store.catalog.add_output(
            arena=seeded.slug, model="model-0", prompt_key="p0", data=png_bytes((1, 1, 1))
        )
    replaced = store.catalog.add_output(
        arena=seeded.slug, model="model-0", prompt_key="p0", data=png_bytes((1, 1, 1)), replace=True
    )
    assert store.catalog.output_media(output_id=replaced.id).data[:4] == b"\x89PNG"


def test_migration_is_idempotent_and_at_head(store: Store) -> None:
    store.db.migrate()
    from karena.store.db import head_revision

    assert store.db.current_revision() == head_revision()


def test_k2_arena_with_elo(store: Store, clock: TestClock) -> None:
    seed_arena(
        store, slug="duel", n_models=3, n_prompts=1, k=2, rating_model="elo", matchmaker="random"
    )
    b = store.battles.create_battle(arena="duel", seed=0)
    clock.advance(3)
    r = store.voting.submit_vote(token=b.token, mode="best", winner=0, voter_id="x")
    assert r.contestants[0].mu_after > r.contestants[0].mu_before
    assert r.contestants[0].sigma_after == 0.0
    before = [(x.mu, x.sigma) for x in store.boards.leaderboard(arena="duel")]
    store.boards.recompute(arena="duel")
    assert [(x.mu, x.sigma) for x in store.boards.leaderboard(arena="duel")] == before


def test_factor_graph_arena_recomputes_exactly(store: Store, clock: TestClock) -> None:
    seed_arena(store, slug="fg", n_models=5, n_prompts=1, k=4, rating_model="factor-graph")
    _cast(store, clock, "fg", 6)
    before = [(x.mu, x.sigma, x.votes) for x in store.boards.leaderboard(arena="fg")]
    assert store.boards.recompute(arena="fg") == 6
    assert [(x.mu, x.sigma, x.votes) for x in store.boards.leaderboard(arena="fg")] == before


def test_hostile_lookups_are_404_not_database_errors(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    """Regression: NUL bytes and out-of-range integers must never reach the database."""
    for token in ("tok\x00en", "x" * 10_000, "../../etc", "é" * 10, ""):
        with pytest.raises(NotFound):
            store.voting.submit_vote(token=token, mode="tie", voter_id="a")
        with pytest.raises(NotFound):
            store.battles.battle_media(token=token, position=0)
    b = store.battles.create_battle(arena=seeded.slug, seed=1)
    for position in (2**63, -1, 10**30):
        with pytest.raises(NotFound):
            store.battles.battle_media(token=b.token, position=position)
    for slug in ("img\x00", "x" * 1000):
        with pytest.raises(NotFound):
            store.boards.leaderboard(arena=slug)
    with pytest.raises(NotFound):
        store.catalog.get_model(arena=seeded.slug, name="model-0\x00")
    with pytest.raises(NotFound):
        store.catalog.output_media(output_id=10**20)
    with pytest.raises(NotFound):
        store.catalog.get_output(model_id=2**40, prompt_id=1)
    with pytest.raises(InvalidInput):
        store.voting.list_votes(arena=seeded.slug, offset=10**30)
    clock.advance(3)
    r = store.voting.submit_vote(
        token=b.token,
        mode="rank",
        ranks=[1, 2, 3, 4],
        voter_id="v\x00",
        client={"ua": "bad\x00agent\u202e", "k\x00": 10**30, "n": float("nan")},
    )
    stored = store.voting.list_votes(arena=seeded.slug).items[0]
    assert stored.client == {"ua": "badagent", "k": 10**30} and r.seq == 1
