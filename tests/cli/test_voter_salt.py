"""R-ANON-7: the published voter salt is refused outside ``karena demo``; the demo makes its own.

With the default salt anyone can recompute the keyed voter hashes of the public export for every
address of a network and so find who voted (127.0.0.0/16 took 0.6 s in the red-team pass).
"""

from __future__ import annotations

import stat
from pathlib import Path

from karena.cli.serve import DEMO_SALT_FILE, default_voter_salt, demo_voter_salt
from karena.settings import Settings
from karena.store.api import Store
from karena.store.votes import address_voter_id, hash_voter
from tests.cli.conftest import Karena


def test_serve_refuses_the_default_salt(karena: Karena, tmp_path: Path) -> None:
    ran = karena("serve", "--port", "0", KARENA_VOTER_SALT=default_voter_salt())
    ran.assert_one_error_line("KARENA_VOTER_SALT", "default", "secrets.token_urlsafe")
    assert not (tmp_path / "karena.db").exists()  # refused before it touched the database


def test_demo_makes_one_random_salt_per_data_folder(tmp_path: Path) -> None:
    first = demo_voter_salt(tmp_path / "a")
    assert first == demo_voter_salt(tmp_path / "a")  # kept: the same voters across restarts
    assert first != demo_voter_salt(tmp_path / "b") and first != default_voter_salt()
    assert len(first) >= 32
    mode = stat.S_IMODE((tmp_path / "a" / DEMO_SALT_FILE).stat().st_mode)
    assert mode == 0o600


def _address_guesses(salt: str, prefix: str = "127.0.0") -> dict[str, str]:
    """What an attacker who knows ``salt`` computes: every stored form of each address's hash."""
    out = {}
    for i in range(256):
        ip = f"{prefix}.{i}"
        out[hash_voter(salt, address_voter_id(salt, ip))] = ip  # a cookieless voter
        out[hash_voter(salt, "address:" + ip)] = ip  # a vote counted as its address
    return out


def _exported_hashes(salt: str, tmp_path: Path) -> set[str]:
    """Votes from 127.0.0.42 without a cookie, through the store, then the export's hashes."""
    from tests.conftest import seed_arena

    url = f"sqlite:///{tmp_path / 'salt.db'}"
    settings = Settings(data_dir=tmp_path, database_url=url, voter_salt=salt, min_vote_seconds=0.0)
    with Store.open(settings) as store:
        slug = seed_arena(store).slug
        voter = address_voter_id(salt, "127.0.0.42")
        for seed in range(3):
            battle = store.battles.create_battle(arena=slug, voter_id=voter, seed=seed)
            store.voting.submit_vote(
                token=battle.token, mode="tie", voter_id=voter, address_id="127.0.0.42"
            )
        path = tmp_path / "votes.jsonl"
        store.voting.export_votes(arena=slug, path=path, fmt="jsonl")
    import json

    return {json.loads(line)["voter_hash"] for line in path.read_text().splitlines()}


def test_export_voters_cannot_be_brute_forced_without_the_secret(tmp_path: Path) -> None:
    """R-ANON-7: with the published salt a /24 sweep names the voter (the attack is real); with
    the demo's own salt the same sweep finds nobody."""
    default = default_voter_salt()
    leaked = _exported_hashes(default, tmp_path / "default")
    assert {_address_guesses(default).get(h) for h in leaked} == {"127.0.0.42"}
    secret = demo_voter_salt(tmp_path / "demo")
    hashes = _exported_hashes(secret, tmp_path / "demo")
    assert not hashes & set(_address_guesses(default))
    assert {_address_guesses(secret).get(h) for h in hashes} == {"127.0.0.42"}  # control
