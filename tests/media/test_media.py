"""Media validation by content, metadata stripping, and the content-addressed store."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from karena.errors import NotFound, PayloadTooLarge, UnsupportedMedia
from karena.media import MediaStore, detect, validate_bytes
from karena.media.reencode import scrub_mp4


def image_bytes(fmt: str, **save: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), (10, 200, 30)).save(buf, format=fmt, **save)
    return buf.getvalue()


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_bytes(tag: bytes = b"made-by-secret-model") -> bytes:
    udta = box(b"udta", box(b"\xa9too", tag))
    moov = box(b"moov", box(b"mvhd", bytes(100)) + udta)
    return box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2") + moov + box(b"mdat", bytes(64))


@pytest.fixture
def media(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media", max_bytes=200_000)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_images_are_accepted_and_reencoded_to_png(media: MediaStore, fmt: str) -> None:
    stored = media.put(image_bytes(fmt), expected_kind="image")
    assert stored.kind == "image" and stored.content_type == "image/png"
    assert stored.path.suffix == ".png" and stored.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert stored.path.name == f"{stored.sha256}.png"
    with Image.open(stored.path) as img:
        assert img.size == (24, 16)


def test_exif_is_stripped(media: MediaStore) -> None:
    exif = Image.Exif()
    exif[0x0131] = "SecretModel-v2"  # Software
    exif[0x010F] = "SecretLab"  # Make
    data = image_bytes("JPEG", exif=exif.tobytes())
    assert b"SecretModel-v2" in data
    out = media.put(data).path.read_bytes()
    assert b"SecretModel" not in out and b"SecretLab" not in out and b"Exif" not in out
    with Image.open(io.BytesIO(out)) as img:
        assert not img.getexif()


def test_png_text_chunks_are_stripped(media: MediaStore) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "model: SecretModel-v2, seed 42")
    info.add_itxt("Comment", "SecretModel-v2 again")
    data = image_bytes("PNG", pnginfo=info)
    assert b"SecretModel-v2" in data
    out = media.put(data).path.read_bytes()
    assert b"SecretModel" not in out
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP"):
        assert chunk not in out


def test_same_pixels_same_file(media: MediaStore) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("who", "model-A")
    a = media.put(image_bytes("PNG", pnginfo=info))
    b = media.put(image_bytes("PNG"))
    assert a.sha256 == b.sha256  # metadata cannot make two outputs distinguishable


@pytest.mark.parametrize(
    "payload",
    [
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        b"<?xml version='1.0'?><svg/>",
        b"<!DOCTYPE html><html><body>hi</body></html>",
        b"   <html><script>alert(1)</script>",
    ],
)
def test_markup_posing_as_an_image_is_rejected(media: MediaStore, payload: bytes) -> None:
    with pytest.raises(UnsupportedMedia):
        media.put(payload, expected_kind="image")
    with pytest.raises(UnsupportedMedia):
        media.put(payload)  # not even as text


def test_polyglot_jpeg_with_appended_html_is_rejected(media: MediaStore) -> None:
    with pytest.raises(UnsupportedMedia, match="polyglot"):
        media.put(image_bytes("JPEG") + b"<html><script>alert(1)</script></html>")


def test_polyglot_jpeg_with_script_in_a_comment_is_rejected(media: MediaStore) -> None:
    jpeg = image_bytes("JPEG")
    comment = b"<script>alert(document.cookie)</script>"
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    with pytest.raises(UnsupportedMedia, match="polyglot"):
        media.put(jpeg[:2] + segment + jpeg[2:])


def test_zip_appended_to_png_is_rejected(media: MediaStore) -> None:
    with pytest.raises(UnsupportedMedia):
        media.put(image_bytes("PNG") + b"PK\x03\x04" + bytes(40))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_images_are_rejected(media: MediaStore, fmt: str) -> None:
    data = image_bytes(fmt)
    with pytest.raises(UnsupportedMedia):
        media.put(data[: len(data) // 2])


def test_oversized_upload_is_payload_too_large(media: MediaStore) -> None:
    with pytest.raises(PayloadTooLarge) as exc:
        media.put(b"a" * 200_001)
    assert exc.value.status_code == 413


def test_empty_and_binary_junk_are_rejected(media: MediaStore) -> None:
    with pytest.raises(UnsupportedMedia):
        media.put(b"")
    with pytest.raises(UnsupportedMedia):
        media.put(bytes(range(256)) * 4)


def test_extension_does_not_matter_content_does(tmp_path: Path) -> None:
    assert detect(image_bytes("JPEG")).format == "jpeg"
    assert detect(image_bytes("PNG")).format == "png"
    assert detect("just some text ✓".encode()).kind == "text"


def test_wrong_kind_for_the_arena_is_rejected(media: MediaStore) -> None:
    with pytest.raises(UnsupportedMedia, match="expected image"):
        media.put(b"hello, I am text", expected_kind="image")
    with pytest.raises(UnsupportedMedia, match="expected video"):
        media.put(image_bytes("PNG"), expected_kind="video")


def test_text_is_stored_as_utf8(media: MediaStore) -> None:
    stored = media.put("\ufeffUn poème — ✓\n".encode(), expected_kind="text")
    assert stored.content_type == "text/plain; charset=utf-8"
    assert stored.path.read_bytes() == "Un poème — ✓\n".encode()
    with pytest.raises(UnsupportedMedia):
        media.put(b"\xff\xfe\xfa not utf-8")
    with pytest.raises(UnsupportedMedia, match="control"):
        media.put(b"text with a NUL \x00 byte")


def test_mp4_metadata_boxes_are_voided_without_moving_data(media: MediaStore) -> None:
    data = mp4_bytes()
    stored = media.put(data, expected_kind="video")
    out = stored.path.read_bytes()
    assert stored.content_type == "video/mp4" and len(out) == len(data)
    assert b"made-by-secret-model" not in out and b"udta" not in out
    assert out.endswith(box(b"mdat", bytes(64)))


def test_truncated_mp4_is_rejected() -> None:
    data = mp4_bytes()
    with pytest.raises(UnsupportedMedia, match="truncated"):
        scrub_mp4(data[:-10])


def ebml(el_id: int, payload: bytes) -> bytes:
    """One EBML element with an 8-byte size field."""
    id_bytes = el_id.to_bytes((el_id.bit_length() + 7) // 8, "big")
    return id_bytes + ((1 << 56) | len(payload)).to_bytes(8, "big") + payload


def webm_bytes() -> bytes:
    header = ebml(0x1A45DFA3, ebml(0x4282, b"webm"))
    info = ebml(
        0x1549A966,
        ebml(0x2AD7B1, b"\x0f\x42\x40")
        + ebml(0x7BA9, b"title: secret-model")
        + ebml(0x4D80, b"muxer-of-secret-lab")
        + ebml(0x5741, b"secret-writer"),
    )
    tags = ebml(0x1254C367, ebml(0x7373, b"SecretTag: made by secret-model"))
    cluster = ebml(0x1F43B675, b"\x01\x02frame-bytes")
    return header + ebml(0x18538067, info + tags + cluster)


def test_webm_metadata_is_voided_without_moving_data(media: MediaStore) -> None:
    data = webm_bytes()
    stored = media.put(data, expected_kind="video")
    out = stored.path.read_bytes()
    assert stored.content_type == "video/webm" and len(out) == len(data)
    assert b"secret" not in out.lower()
    assert out.endswith(ebml(0x1F43B675, b"\x01\x02frame-bytes"))
    assert b"\x0f\x42\x40" in out  # the timecode scale survives
    assert media.put(out).sha256 == stored.sha256  # scrubbing is idempotent


def test_truncated_webm_is_rejected(media: MediaStore) -> None:
    with pytest.raises(UnsupportedMedia):
        media.put(webm_bytes()[:-5], expected_kind="video")


def test_decompression_bomb_is_rejected(media: MediaStore) -> None:
    big = MediaStore(media.root, max_bytes=50_000_000)
    buf = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buf, format="PNG")
    with pytest.raises(UnsupportedMedia):
        big.put(buf.getvalue())


def test_read_missing_and_bad_hashes(media: MediaStore) -> None:
    with pytest.raises(NotFound):
        media.read("0" * 64, "image/png")
    with pytest.raises(NotFound):
        media.read("../../etc/passwd", "image/png")


def test_validate_reports_the_limit() -> None:
    with pytest.raises(PayloadTooLarge) as exc:
        validate_bytes(b"x" * 11, max_bytes=10)
    assert exc.value.detail == {"size": 11, "limit": 10}


def test_canvas_makes_every_image_the_same_size_and_colour_type(tmp_path: Path) -> None:
    """Regression (R-ANON-1): native sizes and aspect ratios must not identify a model."""
    media = MediaStore(tmp_path / "canvas", max_bytes=5_000_000, image_size=64)
    shapes = [((32, 32), "RGB"), ((96, 48), "RGB"), ((40, 120), "RGBA"), ((64, 64), "L"),
              ((200, 200), "P")]  # fmt: skip
    seen = set()
    for size, mode in shapes:
        buf = io.BytesIO()
        Image.new(mode, size, 200 if mode in ("L", "P") else (200, 100, 50, 255)[: len(mode)]).save(
            buf, format="PNG"
        )
        out = media.put(buf.getvalue()).path.read_bytes()
        with Image.open(io.BytesIO(out)) as img:
            seen.add((img.size, img.mode))
            if size == (96, 48):  # wide: cover-cropped, no black bars (R-ANON-3)
                assert img.getpixel((32, 2)) == (200, 100, 50)
                assert img.getpixel((32, 32)) == (200, 100, 50)
    assert seen == {((64, 64), "RGB")}


def test_store_uses_the_configured_canvas(tmp_path: Path) -> None:
    from karena.settings import Settings
    from karena.store import Store

    settings = Settings(data_dir=tmp_path, media_image_size=128)
    with Store.open(settings) as store:
        store.catalog.create_arena(slug="a", k=2)
        store.catalog.add_model(arena="a", name="m")
        store.catalog.add_prompt(arena="a", text="t", key="t")
        out = store.catalog.add_output(
            arena="a", model="m", prompt_key="t", data=image_bytes("JPEG")
        )
        with Image.open(io.BytesIO(store.catalog.output_media(output_id=out.id).data)) as img:
            assert img.size == (128, 128)
