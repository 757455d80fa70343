"""Every documented error path of the command line (docs/cli.md, "Errors"): one ``error: …``
line on stderr that names what to fix, exit code 2, no traceback, nothing left behind."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Karena, karena_process
from tests.conftest import POSTGRES_ENV
from tests.generators.test_gallery import make_folder_gallery


@pytest.fixture
def migrated(karena: Karena) -> Karena:
    """cli_env's database, migrated, with an empty arena ``t2i``."""
    assert karena("migrate").code == 0
    assert karena("arena", "add", "t2i").code == 0
    return karena


def test_bad_setting_value_names_the_variable(karena: Karena) -> None:
    """Finding 14.3: KARENA_RATE_LIMIT_PER_MINUTE=abc printed a 50-line pydantic traceback."""
    ran = karena("arena", "list", KARENA_RATE_LIMIT_PER_MINUTE="abc")
    line = ran.assert_one_error_line("KARENA_RATE_LIMIT_PER_MINUTE='abc'", "valid integer")
    assert ran.code == 2 and line.count("\n") == 0
    doctor = karena("doctor", KARENA_RATE_LIMIT_PER_MINUTE="abc")  # a line of its report
    assert doctor.code == 1 and "FAIL  settings     KARENA_RATE_LIMIT_PER_MINUTE" in doctor.out


def test_bad_setting_through_the_installed_script(cli_env: dict[str, str]) -> None:
    """The console script itself, in a real process: one line, exit 2."""
    ran = karena_process("arena", "list", env={**cli_env, "KARENA_PORT": "99999"})
    ran.assert_one_error_line("KARENA_PORT=", "65535")
    assert ran.code == 2


def test_two_bad_settings_share_the_line(karena: Karena) -> None:
    ran = karena("arena", "list", KARENA_MAX_UPLOAD_BYTES="0", KARENA_DEFAULT_K="9")
    ran.assert_one_error_line("KARENA_MAX_UPLOAD_BYTES='0'", "KARENA_DEFAULT_K='9'")


def test_unreachable_postgres_is_one_line(cli_env: dict[str, str]) -> None:
    """Finding 14.3: an unreachable PostgreSQL URL printed ~100 lines ending in OperationalError."""
    with socket.socket() as probe:  # a port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://karena:hunter2@127.0.0.1:{port}/karena"
    ran = karena_process("arena", "list", env={**cli_env, "KARENA_DATABASE_URL": url})
    line = ran.assert_one_error_line("KARENA_DATABASE_URL", f"127.0.0.1:{port}", "refused")
    assert "hunter2" not in line  # the password is masked
    assert ran.code == 2


@pytest.mark.postgres
def test_missing_postgres_database_is_one_line(karena: Karena) -> None:
    """Finding 14.3: a database that does not exist on a running server."""
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    from sqlalchemy.engine import make_url

    url = make_url(admin).set(database="karena_no_such_database").render_as_string(False)
    ran = karena("leaderboard", "--arena", "x", "--database-url", url)
    ran.assert_one_error_line("karena_no_such_database", "does not exist", "--database-url")


def test_unsupported_database_url(karena: Karena) -> None:
    ran = karena("arena", "list", KARENA_DATABASE_URL="mysql://root:pw@127.0.0.1/karena")
    line = ran.assert_one_error_line("unsupported database URL", "KARENA_DATABASE_URL")
    assert "sqlite:///path" in line and ":pw@" not in line
    karena("arena", "list", KARENA_DATABASE_URL="karena.db").assert_one_error_line(
        "unsupported database URL 'karena.db'"
    )


def test_unknown_arena(migrated: Karena, tmp_path: Path) -> None:
    ran = migrated("export", "--arena", "missing", "-o", str(tmp_path / "votes.jsonl"))
    assert ran.assert_one_error_line() == "error: no arena 'missing'"
    assert not (tmp_path / "votes.jsonl").exists()


def test_usage_error_points_at_help(karena: Karena) -> None:
    ran = karena("export", "--arena", "t2i", "--output", "x.jsonl", "--colour")
    ran.assert_one_error_line("--colour", "(see `karena export --help`)")
    assert ran.code == 2
    karena("nosuch").assert_one_error_line("No such command", "`karena --help`")


def test_export_format(migrated: Karena, tmp_path: Path) -> None:
    ran = migrated("export", "--arena", "t2i", "-o", str(tmp_path / "v.xml"), "--format", "xml")
    ran.assert_one_error_line("--format must be jsonl, csv or parquet")


def test_replay_errors(karena: Karena, tmp_path: Path) -> None:
    karena("replay", str(tmp_path / "none.jsonl")).assert_one_error_line("no vote log at")
    log = tmp_path / "votes.jsonl"
    log.write_text('{"models": ["a", "b"], "mode": "rank", "ranks": [1, 2]}\n{"models": 3}\n')
    karena("replay", str(log)).assert_one_error_line("line 2", '"models"')
    karena("replay", str(log), "-m", "glicko").assert_one_error_line(
        "unknown rating model 'glicko'", "thurstone"
    )


def test_import_with_the_wrong_layout(migrated: Karena, tmp_path: Path) -> None:
    """Finding 14.9: ``--layout ksort`` on a folder gallery said "0 prompts" and exited 0."""
    make_folder_gallery(tmp_path / "gallery")
    ran = migrated("import", str(tmp_path / "gallery"), "--arena", "t2i", "--layout", "ksort")
    ran.assert_one_error_line("nothing to import as the 'ksort' layout", "folder gallery")
    assert migrated("import", str(tmp_path / "gallery"), "--arena", "t2i").code == 0


def test_simulate_errors(karena: Karena, tmp_path: Path) -> None:
    out = str(tmp_path / "sim")
    karena("simulate", "--methods", "nope", "-o", out).assert_one_error_line(
        "unknown method(s) nope"
    )
    karena("simulate", "--noise", "loud", "-o", out).assert_one_error_line("bad noise 'loud'")
    karena("simulate", "--n", "2").assert_one_error_line("--n")


def test_voter_errors(migrated: Karena) -> None:
    migrated("voter", "unban", "0" * 64).assert_one_error_line("voter is not banned")
    migrated("voter", "ban", "not-a-hash").assert_one_error_line("64 lower-case hex digits")


def test_eval_needs_one_reference(karena: Karena) -> None:
    karena("eval", "--model", "m").assert_one_error_line("--reference DIR or --arena SLUG")


def test_rewards_missing_input(karena: Karena, tmp_path: Path) -> None:
    ran = karena("rewards", str(tmp_path / "none.parquet"), "-o", str(tmp_path / "out"))
    ran.assert_one_error_line("none.parquet")


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port that something is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_taken_port(karena: Karena, busy_port: int, command: str, tmp_path: Path) -> None:
    ran = karena(command, "--port", str(busy_port), KARENA_DATA_DIR=str(tmp_path / "d"))
    ran.assert_one_error_line(f"cannot listen on 127.0.0.1:{busy_port}", "--port")
    assert not (tmp_path / "karena.db").exists()


def test_serve_on_an_unreachable_database(karena: Karena) -> None:
    """``karena serve`` prepares the schema first: an unreachable database is its one line."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://karena@127.0.0.1:{port}/karena"
    ran = karena("serve", "--port", "0", "--database-url", url)
    ran.assert_one_error_line("cannot use the database", "--database-url", "refused")
