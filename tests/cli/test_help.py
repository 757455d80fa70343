"""Every command's ``--help``, discovered from the Typer app: it exits 0 and cuts nothing."""

from __future__ import annotations

import re

import pytest
import typer

from karena.cli.main import build_app
from tests.cli.conftest import Karena


def command_paths() -> list[tuple[str, ...]]:
    """Every command and group of the app, as the words a user types (the root is ``()``)."""
    root = typer.main.get_command(build_app())
    found: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        found.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, (*path, name))

    walk(root, ())
    return found


COMMANDS = command_paths()


def test_the_app_has_the_documented_commands() -> None:
    """The discovery walks groups: a renamed or lost command fails here, not silently."""
    names = {" ".join(path) for path in COMMANDS}
    for expected in (
        "demo", "serve", "migrate", "import", "export", "replay", "simulate", "eval", "rewards",
        "train-dpo", "doctor", "voter unban", "arena list", "model disable", "prompt add",
    ):  # fmt: skip
        assert expected in names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "karena")
def test_help_exits_0_and_cuts_nothing(karena: Karena, path: tuple[str, ...]) -> None:
    """Finding 14.10: flags showed a ``<bool>`` metavar and ``eval --help`` cut text with "…"."""
    ran = karena(*path, "--help")
    assert ran.code == 0, ran.err
    assert ran.err == ""
    assert ran.out.startswith(f"Usage: karena {' '.join(path)}".rstrip())
    assert "<bool>" not in ran.out
    assert "…" not in ran.out
    # click shortens a command's summary with "..." when its first sentence is too long.
    listed = [line for line in ran.out.splitlines() if not line.startswith("Usage:")]
    assert not [line for line in listed if re.search(r"\S\.\.\.$", line)], ran.out
    assert "Show this message and exit." in ran.out
