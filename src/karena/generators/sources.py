"""Read a gallery from a folder or a zip file without ever leaving it (no path traversal)."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import Protocol

from karena.errors import InvalidInput, NotFound, PayloadTooLarge

__all__ = ["FolderSource", "GallerySource", "ZipSource", "open_source", "safe_relpath"]


def safe_relpath(name: str, where: str) -> PurePosixPath:
    """A relative, normalised POSIX path inside the gallery, or InvalidInput naming the culprit."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise InvalidInput(f"empty or invalid path {name!r} in {where}")
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or text.startswith("~"):
        raise InvalidInput(f"absolute path {name!r} in {where}: paths must be relative")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidInput(f"path {name!r} in {where} climbs out of the gallery ('..')")
    if not parts:
        raise InvalidInput(f"empty path {name!r} in {where}")
    return PurePosixPath(*parts)


class GallerySource(Protocol):
    """A tree of files addressed by relative POSIX paths."""

    label: str

    def files(self) -> list[PurePosixPath]:
        """Every regular file, sorted."""
        ...

    def read(self, rel: PurePosixPath, max_bytes: int) -> bytes:
        """The bytes of one file (PayloadTooLarge over ``max_bytes``; NotFound if absent)."""
        ...


class FolderSource:
    """A gallery on disk. Symbolic links that resolve outside the root are refused."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.label = str(root)

    def _resolve(self, rel: PurePosixPath) -> Path:
        path = (self.root / Path(*rel.parts)).resolve()
        if path != self.root and self.root not in path.parents:
            raise InvalidInput(f"{rel} in {self.label} points outside the gallery (symlink?)")
        return path

    def files(self) -> list[PurePosixPath]:
        found = []
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                full = Path(dirpath) / name
                rel = PurePosixPath(full.relative_to(self.root).as_posix())
                if name.startswith("."):
                    continue
                self._resolve(rel)
                if stat.S_ISREG(full.stat().st_mode):
                    found.append(rel)
        return sorted(found)

    def read(self, rel: PurePosixPath, max_bytes: int) -> bytes:
        path = self._resolve(rel)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise NotFound(f"{rel} is missing from {self.label}") from None
        if size > max_bytes:
            raise PayloadTooLarge(f"{rel} is {size} bytes; the limit is {max_bytes}")
        return path.read_bytes()


class ZipSource:
    """A gallery in a zip file. Every member name is checked before anything is read."""

    def __init__(self, path: Path) -> None:
        self.label = str(path)
        try:
            self.zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise InvalidInput(f"{path} is not a valid zip file") from None
        self.members: dict[PurePosixPath, zipfile.ZipInfo] = {}
        for info in self.zf.infolist():
            rel = safe_relpath(info.filename, self.label)
            if info.is_dir():
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise InvalidInput(f"zip member {info.filename!r} is a symbolic link")
            if rel.name.startswith(".") or rel.parts[0] == "__MACOSX":
                continue
            self.members[rel] = info
        # A zip whose entries all sit under one top folder is read from inside that folder.
        tops = {rel.parts[0] for rel in self.members}
        if len(tops) == 1 and all(len(rel.parts) > 1 for rel in self.members):
            top = next(iter(tops))
            self.members = {PurePosixPath(*rel.parts[1:]): i for rel, i in self.members.items()}
            self.label = f"{path}:{top}"

    def files(self) -> list[PurePosixPath]:
        return sorted(self.members)

    def read(self, rel: PurePosixPath, max_bytes: int) -> bytes:
        info = self.members.get(rel)
        if info is None:
            raise NotFound(f"{rel} is missing from {self.label}")
        if info.file_size > max_bytes:
            raise PayloadTooLarge(f"{rel} is {info.file_size} bytes; the limit is {max_bytes}")
        with self.zf.open(info) as fh:
            data = fh.read(max_bytes + 1)  # never trust the declared size (zip bombs)
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"{rel} unpacks to more than {max_bytes} bytes")
        return data


def open_source(path: Path) -> FolderSource | ZipSource:
    """A folder or a ``.zip`` file as a gallery source."""
    path = Path(path)
    if path.is_dir():
        return FolderSource(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return ZipSource(path)
    if not path.exists():
        raise NotFound(f"{path} does not exist")
    return FolderSource(path.parent) if path.suffix == ".jsonl" else _not_gallery(path)


def _not_gallery(path: Path) -> FolderSource:
    raise InvalidInput(f"{path} is neither a folder, a zip file nor a JSONL manifest")
