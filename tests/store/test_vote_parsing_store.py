"""The store's vote path at its edges, and the messages a voter or an operator reads (issue 18).

Real SQLite (and PostgreSQL when KARENA_TEST_POSTGRES_URL is set) through the Store: best-of-K
winner at K−1, K and K+1, integral float ranks, the client-info limits at their boundary, the
snapshot interval, and the text of every refusal of :mod:`karena.store.voting`.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from sqlalchemy import text

from karena.errors import (
    Conflict,
    Expired,
    Forbidden,
    InvalidInput,
    InvalidVote,
    NotFound,
    RateLimited,
)
from karena.store import Store
from karena.store.votes import (
    MAX_CLIENT_FIELD,
    SNAPSHOT_EVERY,
    address_voter_id,
    clean_client,
    hash_voter,
)
from tests.conftest import SeededArena, TestClock
from tests.store.helpers import relax


def _battle(store: Store, arena: str, seed: int, clock: TestClock) -> str:
    token = store.battles.create_battle(arena=arena, seed=seed).token
    clock.advance(5)
    return token


# -- best-of-K and float ranks, through the store ------------------------------------------


def test_best_of_k_winner_is_a_position_below_k(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    token = _battle(store, seeded.slug, 1, clock)
    for winner, shown in ((4, "got 4"), (5, "got 5"), (-1, "got -1")):
        with pytest.raises(InvalidVote, match=rf"^winner must be a position in 0\.\.3, {shown}$"):
            store.voting.submit_vote(token=token, mode="best", winner=winner, voter_id="a")
    result = store.voting.submit_vote(token=token, mode="best", winner=3, voter_id="a")
    assert result.mode == "best" and result.ranks == (2, 2, 2, 1)


def test_integral_float_ranks_are_accepted_as_integers(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    token = _battle(store, seeded.slug, 2, clock)
    with pytest.raises(InvalidVote, match=r"^rank of position 1 must be an integer, got 2\.5$"):
        store.voting.submit_vote(token=token, mode="rank", ranks=[1.0, 2.5, 3, 4], voter_id="a")
    result = store.voting.submit_vote(
        token=token, mode="rank", ranks=[1.0, 2.0, 2.0, 4.0], voter_id="a"
    )
    assert result.ranks == (1, 2, 2, 4) and all(type(r) is int for r in result.ranks)
    best = _battle(store, seeded.slug, 3, clock)
    assert store.voting.submit_vote(token=best, mode="best", winner=0.0, voter_id="b").ranks == (
        1,
        2,
        2,
        2,
    )


# -- clean_client at its limits ---------------------------------------------------------------


def test_clean_client_keeps_sixteen_fields_and_no_more() -> None:
    sixteen = {f"k{i:02d}": i for i in range(16)}
    assert clean_client(sixteen) == sixteen
    seventeen = {**sixteen, "k16": 16}
    assert clean_client(seventeen) == sixteen
    # Dropped fields do not use up the sixteen places.
    dropped = {f"x{i}": [i] for i in range(5)}
    assert len(clean_client({**dropped, **sixteen})) == 16


def test_clean_client_cuts_names_at_64_and_strings_at_the_limit() -> None:
    assert MAX_CLIENT_FIELD == 300
    name = "n" * 64
    assert clean_client({name + "tail": 1}) == {name: 1}
    at_limit = "u" * MAX_CLIENT_FIELD
    assert clean_client({"ua": at_limit}) == {"ua": at_limit}
    assert clean_client({"ua": at_limit + "v"}) == {"ua": at_limit}
    assert clean_client({"a\x00b": "x\x00y\ttab\u200bz"}) == {"ab": "xytabz"}


def test_clean_client_keeps_finite_scalars_only() -> None:
    got = clean_client(
        {
            "i": 3,
            "b": True,
            "f": 1.5,
            "nan": float("nan"),
            "inf": float("inf"),
            "none": None,
            "list": [1],
            "dict": {"a": 1},
            7: "seven",
        }
    )
    assert got == {"i": 3, "b": True, "f": 1.5, "7": "seven"}
    assert clean_client(None) == {} and clean_client({}) == {}


def test_stored_client_is_the_cleaned_one(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    token = _battle(store, seeded.slug, 4, clock)
    client = {"ua": "x" * 400 + "\x00", "viewport": 1024, "junk": {"a": 1}}
    store.voting.submit_vote(token=token, mode="tie", voter_id="a", client=client)
    with store.db.read_conn() as conn:
        stored = conn.execute(text("SELECT client FROM votes")).scalar_one()
    if isinstance(stored, str):
        stored = json.loads(stored)
    assert stored == {"ua": "x" * 300, "viewport": 1024}


def test_voter_hashes_are_salted_hmacs() -> None:
    expected = hmac.new(b"salt", b"voter-1", hashlib.sha256).hexdigest()
    assert hash_voter("salt", "voter-1") == expected and len(expected) == 64
    assert hash_voter("other", "voter-1") != expected
    addr = hmac.new(b"salt", b"address:10.0.0.1", hashlib.sha256).hexdigest()[:32]
    assert address_voter_id("salt", "10.0.0.1") == addr
    # A cookie that is not valid Unicode (a lone surrogate) hashes; it never raises.
    odd = hmac.new(b"salt", b"a?b", hashlib.sha256).hexdigest()
    assert hash_voter("salt", "a\ud800b") == odd


# -- the snapshot interval --------------------------------------------------------------------


def test_a_periodic_snapshot_is_written_exactly_every_hundred_votes(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    assert SNAPSHOT_EVERY == 100
    relax(store)
    with store.db.write() as s:
        s.execute(text("UPDATE arenas SET vote_seq = 97"))
    board_at_100: dict[str, list[float]] = {}
    for i in range(4):  # seq 98, 99, 100, 101
        token = store.battles.create_battle(arena=seeded.slug, seed=10 + i).token
        assert store.voting.submit_vote(token=token, mode="tie", voter_id=f"v{i}").seq == 98 + i
        if i == 2:
            with store.db.read_conn() as conn:
                rows = conn.execute(text("SELECT model_id, mu, sigma, votes FROM ratings")).all()
            board_at_100 = {str(m): [mu, sigma, n] for m, mu, sigma, n in rows}
    with store.db.read_conn() as conn:
        snaps = conn.execute(
            text("SELECT seq, ratings FROM rating_snapshots WHERE reason = 'periodic'")
        ).all()
    assert [row[0] for row in snaps] == [100]
    ratings = snaps[0][1]
    if isinstance(ratings, str):
        ratings = json.loads(ratings)
    assert ratings == board_at_100  # every rating as it stood after vote 100


def test_recording_counts_each_pair_once_per_vote_in_id_order(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    token = _battle(store, seeded.slug, 40, clock)
    result = store.voting.submit_vote(token=token, mode="rank", ranks=[1, 2, 3, 4], voter_id="a")
    assert result.created_at == clock()
    with store.db.read_conn() as conn:
        pairs = conn.execute(text("SELECT model_a, model_b, n FROM pair_counts")).all()
        model_ids = conn.execute(text("SELECT model_ids FROM votes")).scalar_one()
    ids = sorted(json.loads(model_ids) if isinstance(model_ids, str) else model_ids)
    assert len(pairs) == 6 and all(a < b and n == 1 for a, b, n in pairs)
    assert sorted({a for a, _, _ in pairs} | {b for _, b, _ in pairs}) == ids


# -- messages of every refusal ---------------------------------------------------------------


def test_unknown_expired_conflicting_and_banned_votes_say_so(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    with pytest.raises(NotFound, match=r"^unknown battle$") as missing:
        store.voting.submit_vote(token="nope", mode="tie", voter_id="a")
    assert missing.value.detail == {"token": "nope"}
    with pytest.raises(NotFound, match=r"^unknown battle$"):  # too long to be a token
        store.voting.submit_vote(token="t" * 65, mode="tie", voter_id="a")
    token = _battle(store, seeded.slug, 5, clock)
    store.voting.submit_vote(token=token, mode="rank", ranks=[1, 2, 3, 4], voter_id="a")
    with pytest.raises(Conflict, match=r"^this battle already has a different vote$"):
        store.voting.submit_vote(token=token, mode="rank", ranks=[1, 2, 4, 3], voter_id="a")
    old = store.battles.create_battle(arena=seeded.slug, seed=6).token
    clock.advance(store.settings.battle_ttl_seconds)
    with pytest.raises(Expired, match=r"^this battle has expired; start a new one$"):
        store.voting.submit_vote(token=old, mode="tie", voter_id="a")
    store.voting.ban_voter(voter_id="spam")
    fresh = _battle(store, seeded.slug, 7, clock)
    with pytest.raises(Forbidden, match=r"^this voter may not vote$"):
        store.voting.submit_vote(token=fresh, mode="tie", voter_id="spam")


def test_a_vote_just_before_expiry_counts(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    token = store.battles.create_battle(arena=seeded.slug, seed=8).token
    clock.advance(store.settings.battle_ttl_seconds - 1)
    assert store.voting.submit_vote(token=token, mode="tie", voter_id="a").seq == 1


def test_bot_guard_message_and_retry_after(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    store.settings = store.settings.model_copy(update={"min_vote_seconds": 2.0})
    token = store.battles.create_battle(arena=seeded.slug, seed=9).token
    clock.advance(0.5)
    with pytest.raises(
        RateLimited, match=r"^vote cast 0\.5 s after the battle was shown; take at least 2 s$"
    ) as err:
        store.voting.submit_vote(token=token, mode="tie", voter_id="a")
    assert err.value.detail == {"retry_after": 1.5}
    clock.advance(1.5)  # exactly the minimum is enough
    assert store.voting.submit_vote(token=token, mode="tie", voter_id="a").seq == 1


def test_rate_limit_messages_name_the_limit(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    store.settings = store.settings.model_copy(
        update={"rate_limit_per_minute": 2, "rate_limit_per_address_per_minute": 3}
    )
    tokens = [store.battles.create_battle(arena=seeded.slug, seed=20 + i).token for i in range(6)]
    clock.advance(5)
    for t in tokens[:2]:
        store.voting.submit_vote(token=t, mode="tie", voter_id="v")
    with pytest.raises(RateLimited, match=r"^too many votes: the limit is 2 a minute$") as err:
        store.voting.submit_vote(token=tokens[2], mode="tie", voter_id="v")
    assert err.value.detail is not None
    assert {k: err.value.detail[k] for k in ("limit", "window_seconds")} == {
        "limit": 2,
        "window_seconds": 60,
    }
    assert 1 <= err.value.detail["retry_after"] <= 60
    store.voting.submit_vote(token=tokens[2], mode="tie", voter_id="w", address_id="a1")
    store.voting.submit_vote(token=tokens[3], mode="tie", voter_id="x", address_id="a1")
    store.voting.check_rate_limit(voter_id="y", address_id="a2")
    store.voting.submit_vote(token=tokens[4], mode="tie", voter_id="y", address_id="a1")
    with pytest.raises(
        RateLimited, match=r"^too many votes from this address: the limit is 3 a minute$"
    ) as err:
        store.voting.check_rate_limit(voter_id="z", address_id="a1")
    assert err.value.detail is not None
    assert {k: err.value.detail[k] for k in ("limit", "window_seconds")} == {
        "limit": 3,
        "window_seconds": 60,
    }
    assert 1 <= err.value.detail["retry_after"] <= 60


def test_vote_result_and_ban_errors_say_what_is_wrong(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    token = _battle(store, seeded.slug, 30, clock)
    with pytest.raises(NotFound, match=r"^no vote for this battle$"):
        store.voting.get_vote_result(token=token)
    with pytest.raises(NotFound, match=r"^no vote for this battle$"):
        store.voting.get_vote_result(token="nope")
    done = store.voting.submit_vote(token=token, mode="best", winner=1, voter_id="a")
    again = store.voting.get_vote_result(token=token)
    assert again.replayed and again.seq == done.seq and again.ranks == done.ranks
    with pytest.raises(NotFound, match=r"^voter is not banned$"):
        store.voting.unban_voter(voter_id="a")
    with pytest.raises(InvalidInput, match=r"^give exactly one of voter_id and voter_hash$"):
        store.voting.ban_voter()
    with pytest.raises(InvalidInput, match=r"^give exactly one of voter_id and voter_hash$"):
        store.voting.ban_voter(voter_id="a", voter_hash="0" * 64)
    for bad in ("0" * 63, "0" * 65, "A" * 64, "g" * 64):
        with pytest.raises(InvalidInput, match=r"^voter_hash must be 64 lower-case hex digits$"):
            store.voting.ban_voter(voter_hash=bad)
    vh = store.voting.voter_hash("a")
    assert store.voting.ban_voter(voter_hash=vh, reason="r" * 600, discount_past=False) == 0
    assert store.voting.is_banned(voter_id="a")
    with store.db.read_conn() as conn:
        reason = conn.execute(text("SELECT reason FROM banned_voters")).scalar_one()
    assert reason == "r" * 500
    assert store.voting.ban_voter(voter_hash=vh) == 1  # banning again discounts the past
    assert store.voting.unban_voter(voter_hash=vh, restore_past=False) == 0
    assert not store.voting.is_banned(voter_id="a")


def test_import_vote_errors_name_the_arena_prompt_and_model(
    store: Store, seeded: SeededArena
) -> None:
    models = list(seeded.models[:4])
    with pytest.raises(NotFound, match=r"^no prompt 'zzz' in arena 'img'$"):
        store.voting.import_vote(
            arena=seeded.slug, prompt_key="zzz", models=models, ranks=[1, 2, 3, 4], source="s"
        )
    with pytest.raises(InvalidInput, match=r"^arena 'img' has K=4, the import names 3$"):
        store.voting.import_vote(
            arena=seeded.slug, prompt_key="p0", models=models[:3], ranks=[1, 2, 3], source="s"
        )
    store.catalog.add_model(arena=seeded.slug, name="late", organization="o")
    with pytest.raises(NotFound, match=r"^model 'late' has no output for prompt 'p0'$"):
        store.voting.import_vote(
            arena=seeded.slug,
            prompt_key="p0",
            models=[*models[:3], "late"],
            ranks=[1, 2, 3, 4],
            source="s",
        )
    with pytest.raises(InvalidInput, match=r"^the same model appears twice in file\.jsonl$"):
        store.voting.import_vote(
            arena=seeded.slug,
            prompt_key="p0",
            models=[*models[:3], models[0]],
            ranks=[1, 2, 3, 4],
            source="file.jsonl",
        )
    first = store.voting.import_vote(
        arena=seeded.slug, prompt_key="p0", models=models, ranks=[2, 1, 3, 4], source="f" * 400
    )
    assert first is not None and first.ranks == (2, 1, 3, 4) and first.counted
    assert [c.model_name for c in first.contestants] == models
    with store.db.read_conn() as conn:
        client, address = conn.execute(text("SELECT client, address_hash FROM votes")).one()
    assert address is None  # an import has no client address
    if isinstance(client, str):
        client = json.loads(client)
    assert client == {"import": "f" * 300}
    assert (
        store.voting.import_vote(
            arena=seeded.slug, prompt_key="p0", models=models, ranks=[1, 2, 3, 4], source="s"
        )
        is None
    )


def test_rate_limit_window_is_sixty_seconds_and_a_limit_of_one_holds(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    store.settings = store.settings.model_copy(update={"rate_limit_per_minute": 1})
    tokens = [store.battles.create_battle(arena=seeded.slug, seed=50 + i).token for i in range(3)]
    clock.advance(5)
    store.voting.submit_vote(token=tokens[0], mode="tie", voter_id="v")
    with pytest.raises(RateLimited, match=r"^too many votes: the limit is 1 a minute$"):
        store.voting.submit_vote(token=tokens[1], mode="tie", voter_id="v")
    # The window slides in steps of a sixth (10 s; karena.store.rate_limits): the vote leaves
    # it between 50 and 60 s after it was cast.
    clock.advance(49.5)
    with pytest.raises(RateLimited):
        store.voting.check_rate_limit(voter_id="v")
    clock.advance(11.0)  # 60.5 s after the vote: out of the window
    store.voting.check_rate_limit(voter_id="v")
    assert store.voting.submit_vote(token=tokens[1], mode="tie", voter_id="v").seq == 2


def test_unban_restores_the_votes_a_ban_discounted(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    token = _battle(store, seeded.slug, 60, clock)
    store.voting.submit_vote(token=token, mode="rank", ranks=[1, 2, 3, 4], voter_id="b")
    before = {r.model_name: (r.mu, r.votes) for r in store.boards.leaderboard(arena=seeded.slug)}
    assert store.voting.ban_voter(voter_id="b", reason="test") == 1
    assert [v.seq for v in store.voting.iter_votes(arena=seeded.slug, counted_only=True)] == []
    assert len(list(store.voting.iter_votes(arena=seeded.slug))) == 1
    assert store.voting.unban_voter(voter_id="b") == 1
    assert [v.seq for v in store.voting.iter_votes(arena=seeded.slug, counted_only=True)] == [1]
    after = {r.model_name: (r.mu, r.votes) for r in store.boards.leaderboard(arena=seeded.slug)}
    assert after == before


def test_vote_log_pages_and_export_of_an_unknown_arena(
    store: Store, seeded: SeededArena, clock: TestClock, tmp_path: object
) -> None:
    from pathlib import Path

    relax(store)
    for i in range(3):
        token = store.battles.create_battle(arena=seeded.slug, seed=70 + i).token
        store.voting.submit_vote(token=token, mode="tie", voter_id=f"p{i}")
    page = store.voting.list_votes(arena=seeded.slug, offset=1, limit=1)
    assert (page.total, page.offset, page.limit) == (3, 1, 1)
    assert [v.seq for v in page.items] == [2]
    out = Path(str(tmp_path)) / "votes.jsonl"
    with pytest.raises(NotFound):
        store.voting.export_votes(arena="nope", path=out, fmt="jsonl")
    assert not out.exists()
    assert store.voting.export_votes(arena=seeded.slug, path=out, fmt="jsonl") == 3
    assert len(out.read_text().splitlines()) == 3


def test_a_vote_from_another_voter_id_counts_as_its_address(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    """The battle was opened by one cookie and voted by another: the vote is the address's."""
    store.settings = store.settings.model_copy(update={"rate_limit_per_minute": 5})
    tokens = [
        store.battles.create_battle(arena=seeded.slug, seed=80 + i, voter_id="alice").token
        for i in range(3)
    ]
    clock.advance(5)
    for token in tokens[:2]:  # the second is not "banned" for having a recent vote
        store.voting.submit_vote(token=token, mode="tie", voter_id="mallory", address_id="a9")
    with store.db.read_conn() as conn:
        hashes = conn.execute(text("SELECT voter_hash FROM votes ORDER BY seq")).scalars().all()
    assert hashes == [store.voting.address_hash("a9")] * 2
    store.voting.ban_voter(voter_hash=store.voting.address_hash("a9"))
    with pytest.raises(Forbidden, match=r"^this voter may not vote$"):
        store.voting.submit_vote(token=tokens[2], mode="tie", voter_id="eve", address_id="a9")


def test_a_browsers_first_battle_keeps_its_new_cookie(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    """Opened before the browser had a cookie (as its address), voted with the new cookie."""
    salt = store.settings.voter_salt.get_secret_value()
    first = address_voter_id(salt, "a7")
    token = store.battles.create_battle(arena=seeded.slug, seed=90, voter_id=first).token
    clock.advance(5)
    store.voting.submit_vote(token=token, mode="tie", voter_id="cookie-1", address_id="a7")
    with store.db.read_conn() as conn:
        stored = conn.execute(text("SELECT voter_hash FROM votes")).scalar_one()
    assert stored == store.voting.voter_hash("cookie-1")


def test_without_a_bot_guard_a_clock_step_back_is_no_refusal(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    store.settings = store.settings.model_copy(update={"min_vote_seconds": 0.0})
    token = store.battles.create_battle(arena=seeded.slug, seed=91).token
    clock.advance(-1.0)  # another worker's clock is a second behind
    assert store.voting.submit_vote(token=token, mode="tie", voter_id="a").seq == 1


def test_ban_reason_defaults_to_empty_and_hashes_must_be_hex(store: Store) -> None:
    store.voting.ban_voter(voter_id="quiet")
    with store.db.read_conn() as conn:
        assert conn.execute(text("SELECT reason FROM banned_voters")).scalar_one() == ""
    with pytest.raises(InvalidInput, match=r"^voter_hash must be 64 lower-case hex digits$"):
        store.voting.ban_voter(voter_hash="X" * 64)


def test_a_new_vote_is_a_frozen_record() -> None:
    import dataclasses

    from karena.rating.types import Tie
    from karena.store.recording import NewVote

    vote = NewVote(battle_id=1, model_ids=(1, 2), outcome=Tie(2), voter_hash="v")
    assert vote.address_hash is None and vote.client == {} and vote.counted
    with pytest.raises(dataclasses.FrozenInstanceError):
        vote.counted = False  # type: ignore[misc]


def test_limits_of_one_hold_and_a_one_second_bot_guard_guards(
    store: Store, seeded: SeededArena, clock: TestClock
) -> None:
    store.settings = store.settings.model_copy(
        update={
            "rate_limit_per_minute": 0,
            "rate_limit_per_address_per_minute": 1,
            "min_vote_seconds": 1.0,
        }
    )
    tokens = [store.battles.create_battle(arena=seeded.slug, seed=95 + i).token for i in range(4)]
    clock.advance(0.5)
    with pytest.raises(RateLimited, match=r"take at least 1 s$"):
        store.voting.submit_vote(token=tokens[0], mode="tie", voter_id="a", address_id="x1")
    clock.advance(1.0)
    # Without an address the per-address limit has nothing to count.
    store.voting.submit_vote(token=tokens[0], mode="tie", voter_id="a")
    store.voting.submit_vote(token=tokens[1], mode="tie", voter_id="b")
    store.voting.submit_vote(token=tokens[2], mode="tie", voter_id="c", address_id="x1")
    with pytest.raises(RateLimited, match=r"the limit is 1 a minute$"):
        store.voting.submit_vote(token=tokens[3], mode="tie", voter_id="d", address_id="x1")
