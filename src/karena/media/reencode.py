"""Make stored media reveal nothing but its pixels: re-encode images, void video metadata boxes.

Images are decoded in full (which also rejects truncated files and polyglots' hidden payloads)
and written again as plain PNG without EXIF, ICC, text chunks or any other metadata. MP4 files
keep their streams; their metadata boxes (``udta``, ``meta``) are turned into ``free`` boxes of
the same size, so no chunk offset moves; WebM tags and title/muxing/writing-app strings become
Void elements of the same size.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from karena.errors import UnsupportedMedia
from karena.media.validate import Detected

__all__ = [
    "MAX_IMAGE_PIXELS",
    "canonicalise",
    "cover_canvas",
    "reencode_image",
    "scrub_mp4",
    "scrub_webm",
]

#: Refuse images above this many pixels (decompression bombs): 8192 x 8192.
MAX_IMAGE_PIXELS = 8192 * 8192
_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
_MP4_CONTAINERS = {b"moov", b"trak", b"edts", b"mdia", b"minf", b"dinf", b"stbl", b"moof", b"traf"}
_MP4_METADATA = {b"udta", b"meta", b"ilst", b"XMP_", b"uuid"}


def cover_canvas(img: Any, canvas: int) -> Any:
    """Scale ``img`` to cover a ``canvas``² square (aspect kept) and cut the centre out.

    Unlike a letterbox, the result has no bars whose size would tell the source's aspect ratio.
    """
    from PIL import Image

    w, h = img.size
    if (w, h) == (canvas, canvas):
        return img
    scale = canvas / min(w, h)
    size = (max(canvas, round(w * scale)), max(canvas, round(h * scale)))
    resized = img.resize(size, Image.Resampling.LANCZOS)
    left, top = (size[0] - canvas) // 2, (size[1] - canvas) // 2
    return resized.crop((left, top, left + canvas, top + canvas))


def reencode_image(data: bytes, fmt: str, canvas: int = 0) -> bytes:
    """Decode an image fully and write it again as metadata-free RGB PNG (first frame only).

    With ``canvas`` > 0 the image is cover-cropped onto a ``canvas`` × ``canvas`` square, so that
    models rendering at different native sizes or aspect ratios cannot be told apart by the
    served dimensions, nor by letterbox bars (issue 13, finding 2).
    """
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                if img.format != _PIL_FORMATS.get(fmt):
                    raise UnsupportedMedia(f"content says {fmt} but decodes as {img.format}")
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    raise UnsupportedMedia(f"image is {img.width}x{img.height}; too many pixels")
                img.load()
                upright = ImageOps.exif_transpose(img)
                frame = upright if upright is not None else img
                # One colour type for every model: RGB, transparency composited onto black.
                if "A" in frame.mode or "transparency" in frame.info:
                    rgba = frame.convert("RGBA")
                    flat = Image.new("RGB", rgba.size, (0, 0, 0))
                    flat.paste(rgba, mask=rgba.getchannel("A"))
                    frame = flat
                else:
                    frame = frame.convert("RGB")
                if canvas > 0:
                    frame = cover_canvas(frame, canvas)
                clean = Image.frombytes(frame.mode, frame.size, frame.tobytes())
        except UnsupportedMedia:
            raise
        except (
            OSError,
            ValueError,
            SyntaxError,
            Image.DecompressionBombWarning,
            Image.DecompressionBombError,
        ) as exc:
            raise UnsupportedMedia(f"cannot decode {fmt} image: {exc}") from None
    out = io.BytesIO()
    # A fresh image carries an empty .info, so no EXIF, ICC profile or text chunk is written.
    clean.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


def _walk_mp4(buf: bytearray, start: int, end: int, depth: int) -> None:
    pos = start
    while pos < end:
        if end - pos < 8:
            raise UnsupportedMedia("MP4 box header is truncated")
        size = int.from_bytes(buf[pos : pos + 4], "big")
        kind = bytes(buf[pos + 4 : pos + 8])
        header = 8
        if size == 1:
            if end - pos < 16:
                raise UnsupportedMedia("MP4 large box header is truncated")
            size = int.from_bytes(buf[pos + 8 : pos + 16], "big")
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise UnsupportedMedia(f"MP4 box {kind!r} overruns the file (truncated?)")
        if kind in _MP4_METADATA:
            buf[pos + 4 : pos + 8] = b"free"
            buf[pos + header : pos + size] = bytes(size - header)
        elif kind in _MP4_CONTAINERS and depth < 8:
            _walk_mp4(buf, pos + header, pos + size, depth + 1)
        pos += size


def scrub_mp4(data: bytes) -> bytes:
    """Check an MP4's box structure and void its metadata boxes (no offsets change)."""
    buf = bytearray(data)
    _walk_mp4(buf, 0, len(buf), 0)
    if b"moov" not in data and b"moof" not in data:
        raise UnsupportedMedia("MP4 file has no movie box")
    return bytes(buf)


# EBML (WebM) element ids: containers we walk, and metadata elements we blank out.
_EBML_SEGMENT = 0x18538067
_EBML_INFO = 0x1549A966
_EBML_TAGS = 0x1254C367
_EBML_INFO_TEXT = {0x7BA9, 0x4D80, 0x5741}  # Title, MuxingApp, WritingApp
_EBML_VOID = 0xEC


def _read_vint(buf: bytearray, pos: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at ``pos``: (value, width)."""
    if pos >= len(buf):
        raise UnsupportedMedia("WebM element header is truncated")
    first = buf[pos]
    width = 1
    while width <= 8 and not first & (0x80 >> (width - 1)):
        width += 1
    if width > 8 or pos + width > len(buf):
        raise UnsupportedMedia("WebM element header is malformed")
    value = first if keep_marker else first & (0xFF >> width)
    for b in buf[pos + 1 : pos + width]:
        value = (value << 8) | b
    return value, width


def _void(buf: bytearray, start: int, end: int) -> None:
    """Overwrite ``buf[start:end]`` with one EBML Void element of exactly that length."""
    total = end - start
    width = min(8, total - 1)
    payload = total - 1 - width
    buf[start] = _EBML_VOID
    size = (1 << (7 * width)) | payload if width < 8 else (0x01 << 56) | payload
    buf[start + 1 : start + 1 + width] = size.to_bytes(width, "big")
    buf[start + 1 + width : end] = bytes(payload)


def _walk_ebml(buf: bytearray, start: int, end: int, depth: int) -> None:
    pos = start
    while pos < end:
        el_id, id_w = _read_vint(buf, pos, keep_marker=True)
        size, size_w = _read_vint(buf, pos + id_w, keep_marker=False)
        body = pos + id_w + size_w
        unknown = size == (1 << (7 * size_w)) - 1
        stop = end if unknown else body + size
        if stop > end:
            raise UnsupportedMedia("WebM element overruns the file (truncated?)")
        if el_id == _EBML_TAGS or (depth > 0 and el_id in _EBML_INFO_TEXT):
            if stop - pos >= 2:
                _void(buf, pos, stop)
        elif el_id in (_EBML_SEGMENT, _EBML_INFO) and depth < 2:
            _walk_ebml(buf, body, stop, depth + 1)
        pos = stop


def scrub_webm(data: bytes) -> bytes:
    """Blank a WebM's tags and its title/muxing/writing-app strings (no offset moves)."""
    buf = bytearray(data)
    _walk_ebml(buf, 0, len(buf), 0)
    return bytes(buf)


def canonicalise(data: bytes, detected: Detected, image_size: int = 0) -> tuple[bytes, Detected]:
    """The bytes we store for ``data``, and what they are after re-encoding."""
    if detected.kind == "image":
        png = reencode_image(data, detected.format, image_size)
        return png, Detected("image", "png", "image/png")
    if detected.format == "mp4":
        return scrub_mp4(data), detected
    if detected.format == "webm":
        return scrub_webm(data), detected
    if detected.kind == "text":
        # One canonical text form: UTF-8 without a byte-order mark.
        return data.removeprefix(b"\xef\xbb\xbf"), detected
    return data, detected
