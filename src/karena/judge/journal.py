"""The evaluation's append-only JSONL journal: one line per finished run, fsynced.

Line 1 is a header naming what the evaluation depends on (reference-set fingerprint, model,
settings of the loop). Each later line is a ``run`` (scored) or a ``skip`` (a run that could not
be scored). A line is written in one ``write`` call and fsynced before the loop moves on, so a
kill leaves at worst one torn last line; :meth:`Journal.open` drops it (it was never
acknowledged) and ``--resume`` replays the rest. Two processes cannot share a journal: the file
is locked (``fcntl.flock``) while an evaluation holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from karena.errors import Conflict, InvalidInput

__all__ = ["JOURNAL_VERSION", "Journal"]

JOURNAL_VERSION = 2  # 2: the header names the method; entries carry the rank interval


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """An open, locked journal. Use :meth:`open`; close it (or use ``with``) when done."""

    def __init__(
        self, path: Path, handle: IO[bytes], header: dict[str, Any], entries: list[dict[str, Any]]
    ):
        self.path = path
        self._handle = handle
        self.header = header
        self.entries = entries
        self.dropped_torn_line = False

    @classmethod
    def open(
        cls, path: Path, header: Mapping[str, Any], *, resume: bool, overwrite: bool = False
    ) -> Journal:
        """Create a journal, or (``resume``) reopen one whose header matches ``header``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        exists = path.exists() and path.stat().st_size > 0
        if exists and not resume and not overwrite:
            raise Conflict(
                f"journal {path} already exists: pass --resume to continue it"
                " or --overwrite to start over"
            )
        handle = open(path, "a+b")  # noqa: SIM115 - held open and locked for the evaluation's life
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise Conflict(f"journal {path} is in use by another evaluation") from exc
        try:
            if exists and overwrite and not resume:
                handle.truncate(0)
                exists = False
            if not exists:
                journal = cls(path, handle, dict(header), [])
                journal._append({"type": "header", "version": JOURNAL_VERSION, **header})
                _fsync_dir(path.parent)  # the new file's directory entry must survive a crash too
                return journal
            return cls._replay(path, handle, header)
        except BaseException:
            handle.close()
            raise

    @classmethod
    def _replay(cls, path: Path, handle: IO[bytes], header: Mapping[str, Any]) -> Journal:
        handle.seek(0)
        raw = handle.read()
        lines = raw.split(b"\n")
        torn = lines[-1] != b""  # a kill mid-write leaves a last line without its newline
        complete = lines[:-1]
        records: list[dict[str, Any]] = []
        for number, line in enumerate(complete, start=1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidInput(
                    f"journal {path} line {number} is corrupt; it was not written by karena"
                ) from exc
        if not records or records[0].get("type") != "header":
            raise InvalidInput(f"journal {path} has no header line")
        stored = records[0]
        if stored.get("version") != JOURNAL_VERSION:
            raise Conflict(
                f"journal {path} has version {stored.get('version')}, expected {JOURNAL_VERSION}"
            )
        diffs = [k for k, v in header.items() if stored.get(k) != v]
        if diffs:
            detail = {k: {"journal": stored.get(k), "now": header[k]} for k in diffs}
            raise Conflict(
                f"journal {path} was written for a different evaluation"
                f" ({', '.join(diffs)} differ);"
                " use another --journal or --overwrite",
                detail=detail,
            )
        journal = cls(path, handle, dict(stored), records[1:])
        if torn:
            handle.truncate(len(raw) - len(lines[-1]))
            journal.dropped_torn_line = True
        for i, entry in enumerate(journal.entries):
            if entry.get("run") != i:
                raise InvalidInput(
                    f"journal {path}: entry {i + 2} has run {entry.get('run')}, expected {i}"
                )
        return journal

    def _append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        self._handle.seek(0, os.SEEK_END)
        self._handle.write(line)
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def append(self, entry: Mapping[str, Any]) -> None:
        """Durably record one finished run (``type`` is ``run`` or ``skip``)."""
        if entry.get("run") != len(self.entries):
            raise InvalidInput(
                f"journal entries must be consecutive: got run {entry.get('run')},"
                f" expected {len(self.entries)}"
            )
        self._append(entry)
        self.entries.append(dict(entry))

    def close(self) -> None:
        """Release the lock and close the file."""
        if not self._handle.closed:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
