"""``karena doctor``: one line per check, exit 1 when one says FAIL, and it creates nothing."""

from __future__ import annotations

import socket
from pathlib import Path

from karena.store.db import head_revision
from tests.cli.conftest import Karena

GOOD_TOKEN = "a-long-enough-admin-token-0123456789"


def _lines(out: str) -> dict[str, tuple[str, str]]:
    """The report by check name: (status, detail)."""
    checks = {}
    for line in out.splitlines()[:-1]:
        status, name, detail = line[:4].strip(), line[6:18].strip(), line[19:]
        checks[name] = (status, detail)
    return checks


def test_a_healthy_installation_passes(karena: Karena, tmp_path: Path) -> None:
    assert karena("migrate").code == 0
    (tmp_path / "data" / "media").mkdir(parents=True)
    ran = karena("doctor", KARENA_ADMIN_TOKEN=GOOD_TOKEN)
    assert ran.code == 0, ran.out
    checks = _lines(ran.out)
    assert checks["settings"][0] == "ok"
    assert checks["database"] == ("ok", f"sqlite:///{tmp_path / 'karena.db'}: schema at "
                                  f"revision {head_revision()} (latest)")  # fmt: skip
    assert checks["media"][0] == "ok" and str(tmp_path / "data" / "media") in checks["media"][1]
    assert checks["voter salt"][0] == "ok" and checks["admin token"][0] == "ok"
    assert checks["[test]"][0] == "ok"  # this test runs with the test extra
    assert ran.out.splitlines()[-1] == "doctor: nothing to fix"


def test_the_default_salt_fails_outside_the_demo(karena: Karena) -> None:
    env = {"KARENA_VOTER_SALT": "karena-default-salt-change-me", "KARENA_ADMIN_TOKEN": "short"}
    ran = karena("doctor", **env)
    assert ran.code == 1
    checks = _lines(ran.out)
    assert checks["voter salt"][0] == "FAIL" and "KARENA_VOTER_SALT" in checks["voter salt"][1]
    assert checks["admin token"] == (
        "FAIL",
        "KARENA_ADMIN_TOKEN has 5 characters; use at least 16 random ones",
    )
    assert ran.out.splitlines()[-1] == "doctor: 2 to fix (voter salt, admin token)"
    demo = karena("doctor", "--demo", KARENA_VOTER_SALT="karena-default-salt-change-me")
    assert demo.code == 0 and _lines(demo.out)["voter salt"][0] == "ok"


def test_no_admin_token_is_a_warning(karena: Karena) -> None:
    checks = _lines(karena("doctor").out)
    assert checks["admin token"] == ("warn", "KARENA_ADMIN_TOKEN is not set: the admin API is off")


def test_it_creates_nothing(karena: Karena, tmp_path: Path) -> None:
    """A missing database and media folder are reported (warn), and stay missing."""
    url = f"sqlite:///{tmp_path / 'new' / 'k.db'}"
    ran = karena("doctor", KARENA_DATABASE_URL=url, KARENA_ADMIN_TOKEN=GOOD_TOKEN)
    assert ran.code == 0, ran.out
    checks = _lines(ran.out)
    assert checks["database"][0] == "warn" and "karena migrate" in checks["database"][1]
    # It says the file is missing, not that an existing file lacks a schema.
    assert f"no database file at {tmp_path / 'new' / 'k.db'} yet" in checks["database"][1]
    assert checks["media"][0] == "warn" and "does not exist yet" in checks["media"][1]
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_database_fails(karena: Karena) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://karena@127.0.0.1:{port}/karena"
    ran = karena("doctor", "--database-url", url, KARENA_ADMIN_TOKEN=GOOD_TOKEN)
    assert ran.code == 1
    status, detail = _lines(ran.out)["database"]
    assert status == "FAIL" and "refused" in detail and "KARENA_DATABASE_URL" in detail


def test_a_media_path_that_is_a_file_fails(karena: Karena, tmp_path: Path) -> None:
    (tmp_path / "media-file").write_text("not a folder")
    ran = karena("doctor", KARENA_MEDIA_DIR=str(tmp_path / "media-file"))
    assert ran.code == 1
    assert _lines(ran.out)["media"] == ("FAIL", f"{tmp_path / 'media-file'} is not a folder "
                                        "(KARENA_MEDIA_DIR)")  # fmt: skip
