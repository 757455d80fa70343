"""Per-battle copies of images (issue 13, findings 1 and 2: R-ANON-2, R-ANON-3)."""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image

from karena.media.anonymise import BattleMediaCache, battle_image, media_key

KEY = media_key(b"test-secret")


def png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def flat(side: int = 64, color: tuple[int, int, int] = (120, 30, 200)) -> np.ndarray:
    return np.full((side, side, 3), color, dtype=np.uint8)


def test_r_anon_2_bytes_differ_per_battle_and_slot_and_repeat_per_slot() -> None:
    """One stored image, served in 6 battle slots: 6 different hashes; a reload repeats one."""
    stored = png(flat())
    copies = {
        (token, slot): battle_image(stored, key=KEY, token=token, slot=slot, canvas=64)
        for token in ("tokA", "tokB", "tokC")
        for slot in (0, 1)
    }
    hashes = {hashlib.sha256(data).hexdigest() for data in copies.values()}
    assert len(hashes) == 6
    assert hashlib.sha256(stored).hexdigest() not in hashes
    again = battle_image(stored, key=KEY, token="tokA", slot=1, canvas=64)
    assert again == copies[("tokA", 1)]
    other_key = battle_image(stored, key=media_key(b"other"), token="tokA", slot=1, canvas=64)
    assert other_key != again


def test_r_anon_2_the_copy_moves_each_channel_by_at_most_one() -> None:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    served = decode(battle_image(png(pixels), key=KEY, token="t", slot=0, canvas=64))
    diff = served - pixels.astype(np.int16)
    assert np.abs(diff).max() == 1
    assert 0.5 < np.mean(diff != 0) < 0.8  # about two thirds of the values move


def test_r_anon_3_every_image_on_the_canvas_has_one_length() -> None:
    """Flat colour, noise, a gradient and native sizes from 32² to 700×300: one length."""
    rng = np.random.default_rng(6)
    gradient = np.tile(np.arange(96, dtype=np.uint8)[None, :, None], (96, 1, 3))
    sources = [
        flat(32),
        flat(128, (0, 0, 0)),
        rng.integers(0, 256, size=(96, 96, 3), dtype=np.uint8),
        gradient,
        rng.integers(0, 256, size=(300, 700, 3), dtype=np.uint8),
    ]
    lengths = {
        len(battle_image(png(p), key=KEY, token="t", slot=i, canvas=64))
        for i, p in enumerate(sources)
    }
    assert len(lengths) == 1


def test_r_anon_3_a_wide_image_is_cover_cropped_without_bars() -> None:
    """A 640×360 image fills the 512 canvas edge to edge: no letterbox tells its aspect."""
    wide = flat(1, (200, 180, 20)).repeat(360, axis=0).repeat(640, axis=1)
    served = decode(battle_image(png(wide), key=KEY, token="t", slot=0, canvas=512))
    assert served.shape == (512, 512, 3)
    # Every pixel is the source colour (±1 noise): no black or blended row or column anywhere.
    assert np.abs(served - np.array([200, 180, 20])).max() <= 1


def test_canvas_zero_keeps_the_stored_size() -> None:
    served = decode(battle_image(png(flat(40)), key=KEY, token="t", slot=0, canvas=0))
    assert served.shape == (40, 40, 3)


def test_cache_keeps_recent_slots_within_its_budget() -> None:
    cache = BattleMediaCache(max_bytes=25)
    cache.put("a", 0, b"x" * 10)
    cache.put("a", 1, b"y" * 10)
    assert cache.get("a", 0) == b"x" * 10  # now the most recent
    cache.put("b", 0, b"z" * 10)  # over 25: the least recent ("a", 1) goes
    assert cache.get("a", 1) is None
    assert cache.get("a", 0) == b"x" * 10 and cache.get("b", 0) == b"z" * 10
    assert cache.size_bytes == 20
    cache.put("c", 0, b"w" * 26)  # alone over the budget: not kept
    assert cache.get("c", 0) is None
