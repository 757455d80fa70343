"""Outputs as the judge sees them: images as base64 data URLs, videos as sampled frames.

Video frames: :data:`DEFAULT_FRAMES` (8) frames at evenly spaced times, each re-encoded as JPEG.
Animated GIF/WebP are decoded with Pillow. MP4/WebM need PyAV (``pip install av``), which is
optional; without it ``video_mode="auto"`` sends the whole clip as one ``video_url`` data URL
(what DashScope's Qwen-VL accepts) and ``video_mode="frames"`` stops with a clear error.
"""

from __future__ import annotations

import base64
import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from karena.errors import UnsupportedMedia

__all__ = [
    "DEFAULT_FRAMES",
    "Media",
    "VideoMode",
    "content_parts",
    "have_video_decoder",
    "sniff_type",
]

DEFAULT_FRAMES = 8
VideoMode = Literal["auto", "frames", "video_url"]

_IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif"}
_VIDEO_TYPES = {"video/mp4", "video/webm"}


def sniff_type(data: bytes) -> str:
    """The media type from the file's first bytes (never from its name)."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    raise UnsupportedMedia("not a JPEG, PNG, GIF, WebP, MP4 or WebM file")


@dataclass(frozen=True, slots=True)
class Media:
    """One output's bytes and sniffed type."""

    data: bytes
    content_type: str

    @classmethod
    def from_bytes(cls, data: bytes) -> Media:
        """Wrap bytes, sniffing their type."""
        return cls(data, sniff_type(data))

    @classmethod
    def from_path(cls, path: Path) -> Media:
        """Read a file, sniffing its type."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UnsupportedMedia(f"cannot read {path}: {exc.strerror}") from exc
        try:
            return cls.from_bytes(data)
        except UnsupportedMedia as exc:
            raise UnsupportedMedia(f"{path}: {exc.message}") from exc

    @property
    def is_video(self) -> bool:
        return self.content_type in _VIDEO_TYPES or (
            self.content_type in ("image/gif", "image/webp") and _frame_count(self.data) > 1
        )


def _data_url(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def _frame_count(data: bytes) -> int:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(getattr(im, "n_frames", 1))
    except (OSError, ValueError):
        return 1


def have_video_decoder() -> bool:
    """True when PyAV is installed, so MP4/WebM can be cut into frames."""
    return importlib.util.find_spec("av") is not None


def _even_indices(total: int, count: int) -> list[int]:
    if total <= count:
        return list(range(total))
    return [int((i + 0.5) * total / count) for i in range(count)]


def _jpeg(image: Any) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _pillow_frames(data: bytes, count: int) -> list[bytes]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        total = int(getattr(im, "n_frames", 1))
        out = []
        for idx in _even_indices(total, count):
            im.seek(idx)
            out.append(_jpeg(im))
        return out


def _av_frames(data: bytes, count: int) -> list[bytes]:
    import av  # optional dependency

    with av.open(io.BytesIO(data)) as container:
        frames = [f.to_image() for f in container.decode(video=0)]
    if not frames:
        raise UnsupportedMedia("the video has no decodable frames")
    return [_jpeg(frames[i]) for i in _even_indices(len(frames), count)]


def video_frames(media: Media, count: int = DEFAULT_FRAMES) -> list[bytes]:
    """``count`` evenly spaced frames of a video as JPEG bytes."""
    if media.content_type in ("image/gif", "image/webp"):
        return _pillow_frames(media.data, count)
    if not have_video_decoder():
        raise UnsupportedMedia(
            "cannot cut video into frames: no decoder installed (pip install av),"
            " or send whole clips with --video-mode video_url"
        )
    try:
        return _av_frames(media.data, count)
    except UnsupportedMedia:
        raise
    except Exception as exc:  # PyAV raises its own error types for broken files
        raise UnsupportedMedia(f"cannot decode video: {exc}") from exc


def content_parts(
    media: Media, label: str, mode: VideoMode = "auto", frames: int = DEFAULT_FRAMES
) -> list[dict[str, object]]:
    """The chat-completions content parts of one output: a caption, then image(s) or a video."""
    caption: dict[str, object] = {"type": "text", "text": f"{label}:"}
    if not media.is_video:
        if media.content_type in _IMAGE_TYPES:
            url = _data_url(media.data, media.content_type)
        else:  # pragma: no cover - sniff_type admits only the types above
            raise UnsupportedMedia(f"cannot send {media.content_type} as an image")
        return [caption, {"type": "image_url", "image_url": {"url": url}}]
    use_frames = mode == "frames" or (
        mode == "auto" and (media.content_type not in _VIDEO_TYPES or have_video_decoder())
    )
    if not use_frames:
        url = _data_url(media.data, media.content_type)
        return [caption, {"type": "video_url", "video_url": {"url": url}}]
    parts = [caption]
    for jpg in video_frames(media, frames):
        parts.append({"type": "image_url", "image_url": {"url": _data_url(jpg, "image/jpeg")}})
    return parts
