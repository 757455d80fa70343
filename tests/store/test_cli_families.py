"""The family and voter commands: ``karena model add --parent``, ``karena model parent``,
``karena arena paired`` and ``karena voter list``, end to end on a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from karena.cli.main import build_app
from karena.errors import KarenaError
from karena.settings import Settings
from karena.store import Store
from tests.conftest import seed_arena


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "KARENA_DATA_DIR": str(tmp_path / "data"),
        "KARENA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "KARENA_MEDIA_DIR": str(tmp_path / "media"),
    }


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(build_app(), list(args), env=env)
    assert result.exit_code == code, result.output
    if code:  # a domain error: the console script prints it as one line (tests/store/test_cli.py)
        assert isinstance(result.exception, KarenaError), result.exception
        return result.exception.message
    return result.output


def test_family_and_voter_commands(env: dict[str, str]) -> None:
    settings = Settings(
        data_dir=Path(env["KARENA_DATA_DIR"]),
        database_url=env["KARENA_DATABASE_URL"],
        media_dir=Path(env["KARENA_MEDIA_DIR"]),
        min_vote_seconds=0,
        rate_limit_per_minute=0,
        media_image_size=32,
    )
    with Store.open(settings) as store:
        seed_arena(store, slug="img")
        for i in range(12):
            b = store.battles.create_battle(arena="img", seed=i)
            store.voting.submit_vote(
                token=b.token, mode="rank", ranks=[1, 2, 3, 4], voter_id=f"v{i % 3}"
            )
        worst = store.voters.reliability(arena="img", limit=1).voters[0].voter_hash
    out = run(env, "model", "add", "img", "model-0-int8", "--parent", "model-0")
    assert "a variant of model-0" in out
    assert "model-1 is a variant of model-0" in run(
        env, "model", "parent", "img", "model-1", "model-0"
    )
    assert "model-1 has no parent" in run(env, "model", "parent", "img", "model-1")
    assert "cycle" in run(env, "model", "parent", "img", "model-0", "model-0-int8", code=1)
    assert "paired evaluation in img: 0.5 of battles" in run(env, "arena", "paired", "img", "0.5")
    assert "paired evaluation in img: off" in run(env, "arena", "paired", "img", "0")
    assert "share" in run(env, "arena", "paired", "img", "2", code=1)
    listing = run(env, "voter", "list", "--arena", "img", "--limit", "3")
    assert "3 voters, 12 counted votes" in listing
    assert worst in listing  # the least reliable comes first, with its full hash
    assert "12 counted" not in run(env, "voter", "list", "--arena", "img", "--recent", "5")
    with Store.open(settings) as store:
        assert store.catalog.get_model(arena="img", name="model-0-int8").parent == "model-0"
        assert "paired" not in store.catalog.get_arena(slug="img").matchmaker_params
