"""Per-battle copies of images (issue 13, findings 1 and 2: R-ANON-2, R-ANON-3)."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from karena.media.anonymise import (
    JPEG_QUALITY,
    SMOOTHING_RADII,
    BattleMediaCache,
    battle_copy,
    battle_image,
    jpeg_target,
    media_key,
    pad_jpeg,
)

KEY = media_key(b"test-secret")


def png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def decode(data: bytes, fmt: str = "PNG") -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == fmt
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def jpeg(pixels: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def com_segments(data: bytes) -> list[int]:
    """Payload lengths of the COM segments before the first scan."""
    found, at = [], 2
    while data[at] == 0xFF and data[at + 1] != 0xDA:
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if data[at + 1] == 0xFE:
            found.append(length - 2)
        at += 2 + length
    return found


def flat(side: int = 64, color: tuple[int, int, int] = (120, 30, 200)) -> np.ndarray:
    return np.full((side, side, 3), color, dtype=np.uint8)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_r_anon_2_bytes_differ_per_battle_and_slot_and_repeat_per_slot(fmt: str) -> None:
    """One stored image, served in 6 battle slots: 6 different hashes; a reload repeats one."""
    stored = png(flat())
    copies = {
        (token, slot): battle_image(stored, key=KEY, token=token, slot=slot, canvas=64, fmt=fmt)
        for token in ("tokA", "tokB", "tokC")
        for slot in (0, 1)
    }
    hashes = {hashlib.sha256(data).hexdigest() for data in copies.values()}
    assert len(hashes) == 6
    assert hashlib.sha256(stored).hexdigest() not in hashes
    again = battle_image(stored, key=KEY, token="tokA", slot=1, canvas=64, fmt=fmt)
    assert again == copies[("tokA", 1)]
    other = battle_image(stored, key=media_key(b"other"), token="tokA", slot=1, canvas=64, fmt=fmt)
    assert other != again


def test_r_anon_2_the_copy_moves_each_channel_by_at_most_one() -> None:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    served = decode(battle_image(png(pixels), key=KEY, token="t", slot=0, canvas=64, fmt="png"))
    diff = served - pixels.astype(np.int16)
    assert np.abs(diff).max() == 1
    assert 0.5 < np.mean(diff != 0) < 0.8  # about two thirds of the values move


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_r_anon_3_every_image_on_the_canvas_has_one_length(fmt: str) -> None:
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
    copies = [
        battle_copy(png(p), key=KEY, token="t", slot=i, canvas=64, fmt=fmt)  # type: ignore[arg-type]
        for i, p in enumerate(sources)
    ]
    assert len({len(c.data) for c in copies}) == 1
    assert {c.content_type for c in copies} == {f"image/{fmt}"}
    assert all(decode(c.data, fmt.upper()).shape == (64, 64, 3) for c in copies)
    if fmt == "jpeg":
        assert len(copies[0].data) == jpeg_target(64, 64, 3.75) == 4096


def test_r_anon_3_the_jpeg_is_about_six_times_smaller_than_the_png() -> None:
    """On a 512 canvas a photograph-like image is 122 880 bytes as JPEG, 787 072 as PNG."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:512, 0:512]
    base = np.stack([(x + y) / 4, (x * 0.3) % 255, 255 - y / 2], axis=-1)
    photo = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    served = battle_copy(png(photo), key=KEY, token="t", slot=0, canvas=512)
    as_png = battle_copy(png(photo), key=KEY, token="t", slot=0, canvas=512, fmt="png")
    assert (len(served.data), len(as_png.data)) == (122_880, 787_072)
    assert served.smoothing == 0  # fits the target as it is
    # As faithful as a plain JPEG at that quality (the ±1 noise and the padding cost nothing).
    error = np.abs(decode(served.data, "JPEG") - photo.astype(np.int16)).mean()
    plain = np.abs(decode(jpeg(photo), "JPEG") - photo.astype(np.int16)).mean()
    assert abs(error - plain) < 0.3


def test_r_anon_3_every_jpeg_has_the_same_quantisation_tables() -> None:
    """Quality is fixed: a flat image and pure noise (smoothed to fit) carry identical DQTs."""
    rng = np.random.default_rng(8)
    noise = rng.integers(0, 256, size=(128, 128, 3), dtype=np.uint8)
    copies = [
        battle_copy(png(p), key=KEY, token="t", slot=0, canvas=128) for p in (flat(128), noise)
    ]
    assert copies[0].smoothing == 0 and copies[1].smoothing > 0  # noise does not fit as it is
    assert len(copies[0].data) == len(copies[1].data)
    tables = []
    for c in copies:
        with Image.open(io.BytesIO(c.data)) as img:
            tables.append(img.quantization)  # type: ignore[attr-defined]
    assert tables[0] == tables[1]
    with Image.open(io.BytesIO(jpeg(flat(128)))) as img:
        assert img.quantization == tables[0]  # type: ignore[attr-defined]
    assert copies[1].smoothing <= len(SMOOTHING_RADII) + 1


@pytest.mark.parametrize("room", [0, 4, 5, 7, 65_537, 65_538, 65_540, 65_541, 200_003])
def test_pad_jpeg_hits_the_target_exactly_and_decodes_the_same(room: int) -> None:
    """COM segments of at most 65 533 payload bytes; Pillow decodes the same pixels."""
    rng = np.random.default_rng(9)
    pixels = rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
    data = jpeg(pixels)
    padded = pad_jpeg(data, len(data) + room, bytes(range(256)) * 1000)
    assert len(padded) == len(data) + room
    segments = com_segments(padded)
    assert all(0 <= n <= 65_533 for n in segments)
    assert sum(n + 4 for n in segments) == room
    assert np.array_equal(decode(padded, "JPEG"), decode(data, "JPEG"))


@pytest.mark.parametrize("room", [-1, 1, 2, 3])
def test_pad_jpeg_refuses_what_no_segment_can_fill(room: int) -> None:
    data = jpeg(flat(16))
    with pytest.raises(ValueError, match="cannot be padded"):
        pad_jpeg(data, len(data) + room, b"\0" * 16)


@pytest.mark.parametrize(("fmt", "tolerance"), [("png", 1), ("jpeg", 4)])
def test_r_anon_3_a_wide_image_is_cover_cropped_without_bars(fmt: str, tolerance: int) -> None:
    """A 640×360 image fills the 512 canvas edge to edge: no letterbox tells its aspect."""
    wide = flat(1, (200, 180, 20)).repeat(360, axis=0).repeat(640, axis=1)
    data = battle_image(png(wide), key=KEY, token="t", slot=0, canvas=512, fmt=fmt)  # type: ignore[arg-type]
    served = decode(data, fmt.upper())
    assert served.shape == (512, 512, 3)
    # Every pixel is the source colour (±1 noise, JPEG rounding): no black or blended row or
    # column anywhere.
    assert np.abs(served - np.array([200, 180, 20])).max() <= tolerance


def test_canvas_zero_keeps_the_stored_size() -> None:
    served = decode(battle_image(png(flat(40)), key=KEY, token="t", slot=0, canvas=0), "JPEG")
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


def test_a_smoothed_copy_is_still_per_slot_and_repeatable() -> None:
    """Pure noise (199 KB as JPEG at 512²) is smoothed to the one length; a reload repeats the
    copy, another slot differs, and it still decodes on the canvas."""
    noise = np.random.default_rng(10).integers(0, 256, size=(512, 512, 3), dtype=np.uint8)
    first = battle_copy(png(noise), key=KEY, token="t", slot=0, canvas=512)
    again = battle_copy(png(noise), key=KEY, token="t", slot=0, canvas=512)
    other = battle_copy(png(noise), key=KEY, token="t", slot=1, canvas=512)
    assert 1 <= first.smoothing <= len(SMOOTHING_RADII)
    assert first == again and other.data != first.data
    assert len(first.data) == len(other.data) == jpeg_target(512, 512, 3.75)
    assert decode(first.data, "JPEG").shape == (512, 512, 3)
