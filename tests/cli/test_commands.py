"""Commands whose behaviour a newcomer found wrong: simulate's --quick, unban, table widths."""

from __future__ import annotations

import json
from pathlib import Path

from karena.settings import Settings
from karena.store import Store
from tests.cli.conftest import Karena
from tests.generators.test_gallery import make_folder_gallery


def test_simulate_quick_keeps_explicit_flags(karena: Karena, tmp_path: Path) -> None:
    """Finding 14.5: ``--quick --noise judge`` ran 5% flip noise; explicit flags now win."""
    out = tmp_path / "sim"
    ran = karena(
        "simulate", "--quick", "--noise", "0.2", "--methods", "elo,ucb", "--n", "6",
        "--seeds", "2", "--budget", "120", "-o", str(out),
    )  # fmt: skip
    assert ran.code == 0, ran.err
    study = json.loads((out / "simulate.json").read_text())
    assert (study["n"], study["seeds"], study["budget_pairs"]) == (6, 2, 120)
    assert list(study["study"]["noise"]) == ["20%"]
    methods = [m["method"] for m in study["study"]["noise"]["20%"]]
    assert len(methods) == 2 and "UCB" in methods[1]  # elo and ucb only
    # A flag not given takes the quick value.
    ran = karena("simulate", "--quick", "--n", "6", "--budget", "60", "-o", str(out))
    study = json.loads((out / "simulate.json").read_text())
    assert (study["n"], study["seeds"], study["budget_pairs"]) == (6, 8, 60)
    assert list(study["study"]["noise"]) == ["5%"]


def test_simulate_table_cuts_no_cell(karena: Karena, tmp_path: Path) -> None:
    """Finding 14.10: piped output was cut with "…" at 80 columns."""
    ran = karena(
        "simulate", "--quick", "--n", "6", "--seeds", "2", "--budget", "60",
        "--methods", "elo,random", "-o", str(tmp_path / "sim"),
    )  # fmt: skip
    assert ran.code == 0
    assert "…" not in ran.out
    assert "Elo K=2 random (k=2)" in ran.out  # the method's whole label on one line


def test_unban_restores_the_votes_the_ban_discounted(karena: Karena, tmp_path: Path) -> None:
    """Finding 14.8: after ban and unban the voter's votes stayed discounted ("unbanned")."""
    assert karena("migrate").code == 0
    assert karena("arena", "add", "gal", "--k", "4").code == 0
    make_folder_gallery(tmp_path / "gal")
    assert karena("import", str(tmp_path / "gal"), "--arena", "gal").code == 0
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'karena.db'}",
        min_vote_seconds=0,
        rate_limit_per_minute=0,
    )
    with Store.open(settings, migrate=False) as store:
        for i in range(6):
            battle = store.battles.create_battle(arena="gal", seed=i)
            voter = "ban-me" if i % 2 else f"voter-{i}"
            store.voting.submit_vote(
                token=battle.token, mode="rank", ranks=[4, 3, 2, 1], voter_id=voter
            )
        banned = store.voting.voter_hash("ban-me")
        before = store.boards.leaderboard(arena="gal")

    ran = karena("voter", "ban", banned)
    assert ran.out.strip() == "banned; 3 earlier votes discounted and ratings rebuilt"
    ran = karena("voter", "unban", banned)
    assert ran.code == 0
    assert ran.out.strip() == "unbanned; 3 discounted votes count again and ratings rebuilt"
    with Store.open(settings, migrate=False) as store:
        after = store.boards.leaderboard(arena="gal")
        assert not store.voting.is_banned(voter_id="ban-me")
    assert [(r.model_name, r.mu, r.sigma, r.votes) for r in after] == [
        (r.model_name, r.mu, r.sigma, r.votes) for r in before
    ]
    # --keep-discounted leaves them out, and says so.
    assert karena("voter", "ban", banned).code == 0
    ran = karena("voter", "unban", banned, "--keep-discounted")
    assert ran.out.strip() == "unbanned; the votes the ban discounted stay discounted"
    assert "replayed 3 votes" in karena("recompute", "--arena", "gal").out
