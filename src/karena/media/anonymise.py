"""Per-battle copies of images: bytes, size and shape that say nothing about the model.

The media store keeps one canonical PNG per output, so without this step an output would be
served as the same bytes in every battle: hashing a slot, or remembering its size from a battle
already voted on, would name the model before the vote (issue 13, findings 1 and 2).
:func:`battle_image` makes the copy one battle slot serves:

- **bytes**: every channel of every pixel moves by -1, 0 or +1, drawn from a generator seeded by
  an HMAC of the battle token and slot under a server key. The copy differs in every battle and
  slot, is the same on every reload of one slot, and cannot be recomputed without the key;
- **size**: every image on the canvas (``KARENA_MEDIA_IMAGE_SIZE``) is served at exactly one
  length, whatever its content. ``KARENA_MEDIA_SERVED_FORMAT=jpeg`` (the default) writes a
  baseline JPEG at one fixed quality (:data:`JPEG_QUALITY`, standard Huffman tables, 4:2:0) and
  pads it to a fixed target length (:func:`jpeg_target`: ``KARENA_MEDIA_JPEG_BITS_PER_PIXEL``
  times the canvas area) with JPEG comment (COM) segments full of keyed noise, which decoders
  skip. The rare image whose JPEG is over the target (noise-like content) is smoothed by a
  Gaussian blur of growing radius until it fits, at the same quality and the same length (see
  docs/reliability.md, R-ANON-3, for why not a second, larger length); ``png`` writes the older
  stored-block PNG (zlib level 0), whose length depends only on width and height: 787 KB on a
  512 canvas against 123 KB for the JPEG;
- **shape**: an image not already on the square canvas is cover-cropped onto it (scaled to cover
  it, centre cut), never letterboxed, so no bars tell its aspect ratio.

``benchmarks/media_anon.py`` measures bytes and time per image for both formats.
A model whose outputs anyone can reproduce (an open renderer, as in the demo) can still be told
by comparing pixels with a local copy; no encoding hides content from someone who can make it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import math
import struct
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from karena.errors import UnsupportedMedia
from karena.media.reencode import cover_canvas

__all__ = [
    "JPEG_QUALITY",
    "BattleMediaCache",
    "ServedImage",
    "battle_copy",
    "battle_image",
    "image_content_type",
    "jpeg_target",
    "media_key",
    "pad_jpeg",
    "stored_png",
]

_KEY_DOMAIN = b"karena-battle-media-v1"

#: One quality for every served JPEG: its quantisation tables are in the bytes (DQT), so a
#: quality chosen per image would tell images (and models) apart.
JPEG_QUALITY = 85
#: The least target length: a flat image's JPEG (headers and tables, ~0.7 KB) always fits.
MIN_JPEG_TARGET = 4096
#: Gaussian blur radii tried, in order, on an image whose JPEG is over the target.
SMOOTHING_RADII = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
_COM_MAX_PAYLOAD = 65533  # a segment's length field (2 bytes) counts itself

ServedFormat = Literal["jpeg", "png"]


@dataclass(frozen=True)
class ServedImage:
    """One served copy: its bytes, their content type and how it was made.

    ``smoothing`` is 0 when the image was encoded as it is, ``n`` when it fitted the target only
    after the ``n``-th smoothing step (``len(SMOOTHING_RADII) + 1``: flattened to one colour),
    and -1 when nothing fitted and it was written as stored-block PNG (never seen in practice:
    a flat image always fits; counted by ``benchmarks/media_anon.py`` as ``fallback_rate``).
    """

    data: bytes
    content_type: str
    smoothing: int = 0


def media_key(secret: bytes) -> bytes:
    """The key that seeds the per-battle noise, derived from a server secret (domain-separated)."""
    return hmac.new(secret, _KEY_DOMAIN, hashlib.sha256).digest()


def _noise_rng(key: bytes, token: str, slot: int) -> np.random.Generator:
    seed = hmac.new(key, f"{token}/{slot}".encode(), hashlib.sha256).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(seed, "big")))


def jpeg_target(width: int, height: int, bits_per_pixel: float) -> int:
    """The length every served JPEG of ``width`` × ``height`` pixels is padded to (bytes).

    ``bits_per_pixel`` × area / 8, at least :data:`MIN_JPEG_TARGET`: 122 880 bytes for a 512²
    canvas at the default 3.75 (chosen from measurements at :data:`JPEG_QUALITY`, see
    docs/reliability.md, R-ANON-3).
    """
    return max(MIN_JPEG_TARGET, math.ceil(bits_per_pixel * width * height / 8))


def _fits(length: int, target: int) -> bool:
    # A comment segment is at least 4 bytes (marker and length): 1 to 3 bytes cannot be padded.
    return length == target or length <= target - 4


def pad_jpeg(jpeg: bytes, target: int, fill: bytes) -> bytes:
    """``jpeg`` padded to exactly ``target`` bytes with COM segments whose payload is ``fill``.

    The segments go after SOI and the JFIF APP0 segment (which must come first), each with at
    most 65 533 payload bytes. ``fill`` must hold at least ``target - len(jpeg)`` bytes.
    """
    room = target - len(jpeg)
    if not _fits(len(jpeg), target) or jpeg[:2] != b"\xff\xd8":
        raise ValueError(f"a {len(jpeg)}-byte JPEG cannot be padded to {target} bytes")
    at = 2
    if jpeg[2:4] == b"\xff\xe0":
        at = 4 + int.from_bytes(jpeg[4:6], "big")
    segments = []
    used = 0
    while room > 0:
        size = min(room, _COM_MAX_PAYLOAD + 4)
        if 0 < room - size < 4:  # leave at least one whole segment for what remains
            size -= 4
        payload = fill[used : used + size - 4]
        used += size - 4
        segments.append(b"\xff\xfe" + (size - 2).to_bytes(2, "big") + payload)
        room -= size
    return jpeg[:at] + b"".join(segments) + jpeg[at:]


def _jpeg(frame: Any) -> bytes:
    buf = io.BytesIO()
    frame.save(buf, format="JPEG", quality=JPEG_QUALITY, subsampling="4:2:0", optimize=False)
    return buf.getvalue()


def _noisy(frame: Any, rng: np.random.Generator) -> Any:
    from PIL import Image

    pixels = np.asarray(frame, dtype=np.int16)
    noise = rng.integers(-1, 2, size=pixels.shape, dtype=np.int16)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8), "RGB")


def battle_copy(
    data: bytes,
    *,
    key: bytes,
    token: str,
    slot: int,
    canvas: int,
    fmt: ServedFormat = "jpeg",
    bits_per_pixel: float = 3.75,
) -> ServedImage:
    """The copy of image ``data`` that slot ``slot`` of battle ``token`` serves.

    Parameters
    ----------
    data
        The stored image (any format Pillow reads; the media store keeps RGB PNG).
    key
        From :func:`media_key`; the same key gives the same copy for the same token and slot.
    token, slot
        The battle and the slot position.
    canvas
        Side of the square every image is served at; 0 keeps the stored size (then the size and
        shape of a file are the stored image's, and its length follows from them).
    fmt
        ``"jpeg"``: fixed quality, padded to :func:`jpeg_target` bytes; ``"png"``: stored-block
        PNG (about 6× larger).
    bits_per_pixel
        The JPEG target's density (``KARENA_MEDIA_JPEG_BITS_PER_PIXEL``).
    """
    from PIL import Image, ImageFilter

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            frame = img.convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:
        raise UnsupportedMedia(f"stored image cannot be decoded: {exc}") from None
    if canvas > 0:
        frame = cover_canvas(frame, canvas)
    rng = _noise_rng(key, token, slot)
    if fmt == "png":
        return ServedImage(stored_png(np.asarray(_noisy(frame, rng))), "image/png")
    target = jpeg_target(frame.width, frame.height, bits_per_pixel)
    for step, radius in enumerate((0.0, *SMOOTHING_RADII)):
        smooth = frame if radius == 0 else frame.filter(ImageFilter.GaussianBlur(radius))
        jpeg = _jpeg(_noisy(smooth, rng))
        if _fits(len(jpeg), target):
            return ServedImage(pad_jpeg(jpeg, target, rng.bytes(target)), "image/jpeg", step)
    mean = tuple(int(c) for c in np.asarray(frame).reshape(-1, 3).mean(axis=0))
    jpeg = _jpeg(Image.new("RGB", frame.size, mean))
    if _fits(len(jpeg), target):
        fill = rng.bytes(target)
        return ServedImage(pad_jpeg(jpeg, target, fill), "image/jpeg", len(SMOOTHING_RADII) + 1)
    return ServedImage(stored_png(np.asarray(_noisy(frame, rng))), "image/png", -1)


def battle_image(
    data: bytes,
    *,
    key: bytes,
    token: str,
    slot: int,
    canvas: int,
    fmt: ServedFormat = "jpeg",
    bits_per_pixel: float = 3.75,
) -> bytes:
    """The bytes of :func:`battle_copy` (same parameters)."""
    return battle_copy(
        data,
        key=key,
        token=token,
        slot=slot,
        canvas=canvas,
        fmt=fmt,
        bits_per_pixel=bits_per_pixel,
    ).data


def image_content_type(data: bytes) -> str:
    """The content type of a served copy, from its first bytes (JPEG or PNG)."""
    return "image/jpeg" if data[:2] == b"\xff\xd8" else "image/png"


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(payload, zlib.crc32(kind)))
    )


def stored_png(pixels: np.ndarray) -> bytes:
    """An RGB PNG of ``pixels`` (H × W × 3 uint8) with no filter and zlib level 0.

    Stored zlib blocks make the file's length a function of width and height alone; writing it
    here skips Pillow's per-row filter search (3× faster). Only IHDR, IDAT and IEND: no metadata.
    """
    height, width, _ = pixels.shape
    rows = np.empty((height, 1 + 3 * width), dtype=np.uint8)
    rows[:, 0] = 0  # filter type None on every row
    rows[:, 1:] = pixels.reshape(height, 3 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 0))
        + _chunk(b"IEND", b"")
    )


class BattleMediaCache:
    """The served copies of recent battle slots, least recently used out, within a byte budget.

    A reload of one slot is then served without re-encoding. Thread-safe; per process.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, token: str, slot: int) -> bytes | None:
        """The cached copy, or None."""
        with self._lock:
            data = self._items.get((token, slot))
            if data is not None:
                self._items.move_to_end((token, slot))
            return data

    def put(self, token: str, slot: int, data: bytes) -> None:
        """Keep ``data`` for this slot (not when it alone is over the budget)."""
        if len(data) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop((token, slot), None)
            if old is not None:
                self._bytes -= len(old)
            self._items[(token, slot)] = data
            self._bytes += len(data)
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    @property
    def size_bytes(self) -> int:
        """Bytes held now."""
        return self._bytes
