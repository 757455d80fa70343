"""Decide what a blob of bytes is from its content, never its name, and reject what we cannot serve.

Accepted: PNG, JPEG and WebP images; MP4 and WebM video; UTF-8 text. Rejected: anything else,
including SVG or HTML posing as an image and polyglots (a valid image that also carries markup or
trailing data a browser could be tricked into running).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from karena.errors import PayloadTooLarge, UnsupportedMedia

__all__ = ["Detected", "MediaKind", "detect", "validate_bytes"]

MediaKind = Literal["image", "video", "text"]

_MARKUP = re.compile(
    rb"<\s*(?:script|html|svg|iframe|object|embed|body|head|meta|!doctype|\?xml)\b|javascript:",
    re.IGNORECASE,
)
# Text outputs may legitimately talk about HTML, so only these are refused in text: NUL and
# other C0 controls besides tab, newline and carriage return.
_BAD_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Detected:
    """What the bytes are: a kind, a sniffed format and the content type to serve them with."""

    kind: MediaKind
    format: str  # png | jpeg | webp | mp4 | webm | text
    content_type: str


def _sniff(data: bytes) -> Detected | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Detected("image", "png", "image/png")
    if data.startswith(b"\xff\xd8\xff"):
        return Detected("image", "jpeg", "image/jpeg")
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Detected("image", "webp", "image/webp")
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return Detected("video", "mp4", "video/mp4")
    if data.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in data[:64]:
        return Detected("video", "webm", "video/webm")
    return None


def detect(data: bytes) -> Detected:
    """Sniff the type of ``data``; raise UnsupportedMedia when it is none we accept."""
    found = _sniff(data)
    if found is not None:
        return found
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml", b"<!doctype", b"<html")) or _MARKUP.search(data[:4096]):
        raise UnsupportedMedia("markup (SVG/HTML/XML) is not an accepted media type")
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise UnsupportedMedia(
            "unrecognised file content: expected PNG, JPEG, WebP, MP4, WebM or UTF-8 text"
        ) from None
    if _BAD_TEXT_CONTROLS.search(text):
        raise UnsupportedMedia("text contains control characters (binary data?)")
    return Detected("text", "text", "text/plain; charset=utf-8")


def _trailing_after_image(data: bytes, fmt: str) -> bool:
    """True when bytes follow the image's end marker (the usual polyglot trick)."""
    if fmt == "png":
        end = data.rfind(b"IEND")
        return end < 0 or len(data) > end + 8
    if fmt == "jpeg":
        end = data.rfind(b"\xff\xd9")
        # A few padding bytes after EOI are common from some encoders; more is suspicious.
        return end < 0 or len(data) - (end + 2) > 16
    if fmt == "webp":
        declared = int.from_bytes(data[4:8], "little") + 8
        return len(data) > declared + 1
    return False


def validate_bytes(
    data: bytes, *, max_bytes: int, expected_kind: MediaKind | None = None
) -> Detected:
    """Check size and content; return what the bytes are.

    Raises
    ------
    PayloadTooLarge
        ``len(data) > max_bytes``.
    UnsupportedMedia
        Empty, unrecognised, markup, a polyglot, or not of ``expected_kind``.
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"upload is {len(data)} bytes; the limit is {max_bytes}",
            detail={"size": len(data), "limit": max_bytes},
        )
    if not data:
        raise UnsupportedMedia("empty file")
    found = detect(data)
    if found.kind in ("image", "video"):
        if _MARKUP.search(data):
            raise UnsupportedMedia(f"{found.format} file also contains markup (polyglot)")
        if _trailing_after_image(data, found.format):
            raise UnsupportedMedia(
                f"{found.format} file does not end at its end marker (truncated, or a polyglot)"
            )
    if expected_kind is not None and found.kind != expected_kind:
        raise UnsupportedMedia(
            f"expected {expected_kind}, got {found.kind} ({found.format})",
            detail={"expected": expected_kind, "got": found.kind},
        )
    return found
