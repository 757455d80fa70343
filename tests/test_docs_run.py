"""Docs that run: every shell and Python block in README.md and docs/*.md is executed.

The convention (docs/architecture.md, "Working on the project"):

* every fenced block names its language; ``bash`` (or ``sh``, ``shell``) and ``python`` blocks
  are code and run, anything else (``text``, ``json``, ``http``) is shown only;
* a code block that cannot run here (a server that stays up, a remote endpoint, data that is not
  in the repository, minutes of work) has ``<!-- not-run: the reason -->`` on the line before
  its fence, and the reason is not empty;
* the blocks of one page run in order, in one fresh folder (so a page can build on its earlier
  blocks), with the venv's ``bin`` first on PATH, ``.venv`` linked to that venv,
  ``KARENA_DATA_DIR`` in that folder and no other ``KARENA_*`` variable; each must exit 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"bash", "sh", "shell"}
PYTHON = {"python"}
SHOWN = {"text", "json", "http", "jsonl", "csv", "toml", "yaml", "ini", "console", "diff"}
NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(?P<reason>.*?)\s*-->$")
#: One block's limit; the whole test stays near a minute (the slowest block is `simulate --quick`).
BLOCK_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    not_run: str | None  # the reason, when marked

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def read_blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page`` in order, with their language and not-run mark."""
    lines = page.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^\s*(```+)(.*)$", lines[i])
        if not fence:
            i += 1
            continue
        ticks, language = fence.group(1), fence.group(2).strip()
        end = i + 1
        while end < len(lines) and lines[end].strip() != ticks:
            end += 1
        assert end < len(lines), f"{page}:{i + 1}: unclosed fence"
        mark = NOT_RUN.match(lines[i - 1].strip()) if i > 0 else None
        blocks.append(
            Block(
                page=page,
                line=i + 1,
                language=language,
                code="\n".join(lines[i + 1 : end]),
                not_run=mark.group("reason") if mark else None,
            )
        )
        i = end + 1
    return blocks


ALL_BLOCKS = [block for page in PAGES for block in read_blocks(page)]


def test_every_block_names_its_language_and_every_skip_a_reason() -> None:
    """A block without a language could be a command nobody runs; a skip needs a why."""
    for block in ALL_BLOCKS:
        assert block.language, f"{block.where}: name the block's language (bash, python, text…)"
        assert block.language in SHELL | PYTHON | SHOWN, f"{block.where}: {block.language!r}"
        if block.not_run is not None:
            assert block.not_run, f"{block.where}: a not-run mark needs its reason"
            assert block.language in SHELL | PYTHON, f"{block.where}: only code is ever run"


def test_most_code_blocks_run() -> None:
    """The marks are exceptions: if most blocks stopped running, this would go unnoticed."""
    code = [b for b in ALL_BLOCKS if b.language in SHELL | PYTHON]
    running = [b for b in code if b.not_run is None]
    assert len(code) >= 15 and len(running) >= len(code) // 2, [b.where for b in running]


def _environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARENA_")}
    venv_bin = Path(sys.executable).parent
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env["KARENA_DATA_DIR"] = str(folder / "data")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["COLUMNS"] = "100"
    return env


def _run(block: Block, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if block.language in PYTHON:
        command = [sys.executable, "-c", block.code]
    else:
        command = ["bash", "-euo", "pipefail", "-c", block.code]
    return subprocess.run(
        command,
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )


PAGES_WITH_CODE = [
    page
    for page in PAGES
    if any(
        b.page == page and b.language in SHELL | PYTHON and b.not_run is None for b in ALL_BLOCKS
    )
]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_runs(page: Path, tmp_path: Path) -> None:
    """Each runnable block of the page exits 0, in order, in one fresh folder."""
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = _environment(tmp_path)
    for block in read_blocks(page):
        if block.language not in SHELL | PYTHON or block.not_run is not None:
            continue
        started = time.monotonic()
        done = _run(block, tmp_path, env)
        assert done.returncode == 0, (
            f"{block.where} exited {done.returncode} after {time.monotonic() - started:.1f} s\n"
            f"--- block\n{block.code}\n--- stdout\n{done.stdout[-3000:]}\n"
            f"--- stderr\n{done.stderr[-3000:]}"
        )
