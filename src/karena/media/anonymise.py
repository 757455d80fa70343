"""Per-battle copies of images: bytes, size and shape that say nothing about the model.

The media store keeps one canonical PNG per output, so without this step an output would be
served as the same bytes in every battle: hashing a slot, or remembering its size from a battle
already voted on, would name the model before the vote (issue 13, findings 1 and 2).
:func:`battle_image` makes the copy one battle slot serves:

- **bytes**: every channel of every pixel moves by -1, 0 or +1, drawn from a generator seeded by
  an HMAC of the battle token and slot under a server key. The copy differs in every battle and
  slot, is the same on every reload of one slot, and cannot be recomputed without the key;
- **size**: written as PNG with zlib level 0 (stored blocks), so the file's length depends only
  on its width and height: with the canvas (``KARENA_MEDIA_IMAGE_SIZE``) every image served has
  exactly the same length, whatever its content;
- **shape**: an image not already on the square canvas is cover-cropped onto it (scaled to cover
  it, centre cut), never letterboxed, so no bars tell its aspect ratio.

The cost is bandwidth: a 512-pixel canvas is served as 787 KB per image, about twice what a
compressed PNG of a photograph takes; ``benchmarks/media_anon.py`` measures the time.
A model whose outputs anyone can reproduce (an open renderer, as in the demo) can still be told
by comparing pixels with a local copy; no encoding hides content from someone who can make it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import struct
import threading
import zlib
from collections import OrderedDict

import numpy as np

from karena.errors import UnsupportedMedia
from karena.media.reencode import cover_canvas

__all__ = ["BattleMediaCache", "battle_image", "media_key", "stored_png"]

_KEY_DOMAIN = b"karena-battle-media-v1"


def media_key(secret: bytes) -> bytes:
    """The key that seeds the per-battle noise, derived from a server secret (domain-separated)."""
    return hmac.new(secret, _KEY_DOMAIN, hashlib.sha256).digest()


def _noise_rng(key: bytes, token: str, slot: int) -> np.random.Generator:
    seed = hmac.new(key, f"{token}/{slot}".encode(), hashlib.sha256).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(seed, "big")))


def battle_image(data: bytes, *, key: bytes, token: str, slot: int, canvas: int) -> bytes:
    """The copy of image ``data`` that slot ``slot`` of battle ``token`` serves (an RGB PNG).

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
        shape of a file are the stored image's).
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            frame = img.convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:
        raise UnsupportedMedia(f"stored image cannot be decoded: {exc}") from None
    if canvas > 0:
        frame = cover_canvas(frame, canvas)
    pixels = np.asarray(frame, dtype=np.int16)
    noise = _noise_rng(key, token, slot).integers(-1, 2, size=pixels.shape, dtype=np.int16)
    moved = np.clip(pixels + noise, 0, 255).astype(np.uint8)
    return stored_png(moved)


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
