"""Running ``karena`` as a user does: through its entry point, in-process or as a subprocess.

In-process runs call ``karena.cli.main.run`` (the console script's function) with the test's
environment, so they see exactly what a user sees, exit code included, at no start-up cost;
a few tests also run the installed ``karena`` script in a real process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from karena.cli.main import run


@dataclass(frozen=True)
class Ran:
    """What one command did: its exit code, stdout and stderr."""

    code: int
    out: str
    err: str

    def assert_one_error_line(self, *fragments: str) -> str:
        """Exit non-zero with exactly one ``error: …`` line on stderr naming every fragment."""
        assert self.code != 0, (self.code, self.out, self.err)
        assert "Traceback" not in self.err + self.out
        lines = self.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), self.err
        for fragment in fragments:
            assert fragment in lines[0], (fragment, lines[0])
        return lines[0]


Karena = Callable[..., Ran]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """KARENA_* for a SQLite database and data folder in tmp_path."""
    return {
        "KARENA_DATA_DIR": str(tmp_path / "data"),
        "KARENA_DATABASE_URL": f"sqlite:///{tmp_path / 'karena.db'}",
        "KARENA_VOTER_SALT": "a-test-salt-that-is-not-the-default",
    }


@pytest.fixture
def karena(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cli_env: dict[str, str]
) -> Iterator[Karena]:
    """``karena(*args, **env)``: run the CLI in-process with cli_env (plus ``env``) only."""

    def invoke(*args: str, **env: str) -> Ran:
        with monkeypatch.context() as patch:
            for key in list(os.environ):
                if key.startswith("KARENA_") and not key.startswith("KARENA_TEST_"):
                    patch.delenv(key)
            for key, value in {**cli_env, **env}.items():
                patch.setenv(key, value)
            capsys.readouterr()
            with pytest.raises(SystemExit) as done:
                run(list(args))
            captured = capsys.readouterr()
        code = done.value.code
        return Ran(code if isinstance(code, int) else 1, captured.out, captured.err)

    yield invoke


def karena_process(*args: str, env: dict[str, str], timeout: float = 120.0) -> Ran:
    """The installed console script in a real process (the venv's ``karena``)."""
    script = Path(sys.executable).with_name("karena")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "karena.cli.main"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KARENA_")}
    proc = subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=timeout,
        check=False,
    )
    return Ran(proc.returncode, proc.stdout, proc.stderr)
