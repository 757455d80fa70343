"""Content-addressed local files, ``<media_dir>/ab/cd/<sha256>.<ext>``, written atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from karena.errors import NotFound
from karena.media.reencode import canonicalise
from karena.media.validate import MediaKind, validate_bytes

__all__ = ["MediaStore", "StoredMedia"]

_EXTENSIONS = {
    "png": "png",
    "jpeg": "jpg",
    "webp": "webp",
    "mp4": "mp4",
    "webm": "webm",
    "text": "txt",
}


@dataclass(frozen=True, slots=True)
class StoredMedia:
    """A blob in the media store, named by the SHA-256 of its canonical bytes."""

    sha256: str
    kind: MediaKind
    content_type: str
    byte_size: int
    path: Path


class MediaStore:
    """A folder of immutable, content-addressed media files."""

    def __init__(self, root: Path, *, max_bytes: int, image_size: int = 0) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.image_size = image_size

    def path_for(self, sha256: str, content_type: str) -> Path:
        """Where the blob with this hash lives."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFound("no such media")
        ext = _ext_for_content_type(content_type)
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.{ext}"

    def put(self, data: bytes, *, expected_kind: MediaKind | None = None) -> StoredMedia:
        """Validate, canonicalise and store ``data``; storing the same content twice is a no-op."""
        detected = validate_bytes(data, max_bytes=self.max_bytes, expected_kind=expected_kind)
        canonical, final = canonicalise(data, detected, self.image_size)
        sha = hashlib.sha256(canonical).hexdigest()
        path = self.path_for(sha, final.content_type)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(canonical)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return StoredMedia(sha, final.kind, final.content_type, len(canonical), path)

    def read(self, sha256: str, content_type: str) -> bytes:
        """The stored bytes (NotFound when the file is missing)."""
        try:
            return self.path_for(sha256, content_type).read_bytes()
        except FileNotFoundError:
            raise NotFound("media file is missing from the media store") from None


def _ext_for_content_type(content_type: str) -> str:
    base = content_type.split(";")[0].strip()
    for fmt, ext in _EXTENSIONS.items():
        if _content_type_of(fmt) == base:
            return ext
    raise NotFound(f"no media of type {content_type!r}")


def _content_type_of(fmt: str) -> str:
    return {
        "png": "image/png",
        "jpeg": "image/jpeg",
        "webp": "image/webp",
        "mp4": "video/mp4",
        "webm": "video/webm",
        "text": "text/plain",
    }[fmt]
