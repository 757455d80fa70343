"""Generators of hostile input: files that lie about their type, archives that escape, odd text.

Each function returns bytes or strings built from scratch (Pillow for real images), so a test can
name exactly which attack it sends. Nothing here touches the network or, unless told, the disk.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, PngImagePlugin

#: Markup a browser would execute if the server ever served it as HTML.
SCRIPT_PAYLOAD = b"<html><body><script>alert('karena-xss')</script></body></html>"
SVG_PAYLOAD = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8" '
    b"onload=\"alert('karena-svg')\"><script>alert(1)</script><rect width='8' height='8'/></svg>"
)


def png_bytes(
    size: tuple[int, int] = (32, 32),
    color: tuple[int, int, int] = (200, 30, 30),
    text_chunks: dict[str, str] | None = None,
) -> bytes:
    """A valid PNG; ``text_chunks`` become tEXt/iTXt chunks (the metadata a leak would hide in)."""
    image = Image.new("RGB", size, color)
    info = PngImagePlugin.PngInfo()
    for key, value in (text_chunks if text_chunks is not None else {}).items():
        if value.isascii():
            info.add_text(key, value)
        else:
            info.add_itxt(key, value)
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def jpeg_bytes(
    size: tuple[int, int] = (32, 32),
    color: tuple[int, int, int] = (30, 30, 200),
    exif_tags: dict[int, str] | None = None,
    comment: bytes | None = None,
) -> bytes:
    """A valid JPEG; ``exif_tags`` maps EXIF tag ids (e.g. 0x0131 Software) to strings."""
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    for tag, value in (exif_tags if exif_tags is not None else {}).items():
        exif[tag] = value
    buf = io.BytesIO()
    kwargs: dict[str, object] = {"format": "JPEG", "quality": 90, "exif": exif.tobytes()}
    if comment is not None:
        kwargs["comment"] = comment
    image.save(buf, **kwargs)
    return buf.getvalue()


def webp_bytes(size: tuple[int, int] = (32, 32), color: tuple[int, int, int] = (9, 99, 9)) -> bytes:
    """A valid WebP image."""
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="WEBP")
    return buf.getvalue()


#: EXIF tags a generator might stamp with its own name.
EXIF_SOFTWARE = 0x0131
EXIF_ARTIST = 0x013B
EXIF_IMAGE_DESCRIPTION = 0x010E


def image_naming_model(model: str, fmt: str, color: tuple[int, int, int]) -> bytes:
    """An image whose metadata names ``model`` everywhere a generator might put it."""
    if fmt == "png":
        return png_bytes(
            color=color,
            text_chunks={"Software": model, "parameters": f"model: {model}", "Comment": model},
        )
    return jpeg_bytes(
        color=color,
        exif_tags={EXIF_SOFTWARE: model, EXIF_ARTIST: model, EXIF_IMAGE_DESCRIPTION: model},
        comment=model.encode(),
    )


def oversized_png(limit_bytes: int) -> bytes:
    """A valid PNG followed by padding, so the whole file is just over ``limit_bytes``."""
    head = png_bytes()
    return head + b"\0" * max(0, limit_bytes + 1 - len(head))


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first ``keep`` fraction of ``data``: a header that promises more than the file holds."""
    return data[: max(8, int(len(data) * keep))]


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    """A zip whose member names are taken verbatim (no normalisation: ``../`` and ``/`` survive)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


def polyglot_jpeg_html() -> bytes:
    """A real JPEG with an HTML page appended: opens as an image, sniffs as HTML in lax browsers."""
    return jpeg_bytes() + SCRIPT_PAYLOAD


def polyglot_jpeg_zip() -> bytes:
    """A real JPEG with a zip archive appended (a 'GIFAR'-style polyglot)."""
    return jpeg_bytes() + zip_bytes({"payload.html": SCRIPT_PAYLOAD})


def html_with_jpeg_magic() -> bytes:
    """HTML after a bare JPEG start-of-image marker: passes a naive magic-number check only."""
    return b"\xff\xd8\xff\xe0" + SCRIPT_PAYLOAD


def traversal_names(root_marker: str) -> list[str]:
    """Member paths that escape an import folder: relative ``../`` chains and absolute paths."""
    return [
        f"../{root_marker}.png",
        f"../../{root_marker}.png",
        f"p1/../../{root_marker}.png",
        f"/tmp/{root_marker}.png",
        f"//{root_marker}.png",
        f"p1/..\\..\\{root_marker}.png",
    ]


def write_jsonl(path: Path, rows: Sequence[dict[str, object]]) -> Path:
    """Write ``rows`` as JSON lines and return ``path``."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


#: Model names that break naive code: direction overrides, invisible joiners, combining marks, NUL.
UNICODE_MODEL_NAMES: dict[str, str] = {
    "rtl_override": "model\u202eevil\u202c",
    "zero_width_joiner": "mo\u200ddel\u200b-zwj",
    "combining_marks": "mo\u0301\u0302\u0303\u0304del",
    "nul_byte": "model\x00hidden",
    "very_long": "m" * 5000,
    "emoji": "🦄 model 👨‍👩‍👧‍👦",
    "script_tag": "<script>alert('name')</script>",
    "newline": "model\nSet-Cookie: x=1",
    "only_spaces": "   ",
    "empty": "",
}

#: Prompts a user could type.
HOSTILE_PROMPTS: dict[str, str] = {
    "script_tag": "<script>alert('karena-prompt')</script> a red cube",
    "img_onerror": '"><img src=x onerror=alert(1)> two blue spheres',
    "control_chars": "a\x00b\x07c\x1b[31mred\x1b[0m \x7f cube\r\nX-Injected: 1",
    "very_long": "a red cube " * 20000,
    "rtl_override": "\u202egnp.exe a red cube",
    "template_injection": "{{ 7*7 }} {% raw %} ${7*7} a cube",
}
