"""Drawing a demo scene with Pillow: layout, shapes and the degradations of each quality profile.

Everything here is deterministic given a ``numpy.random.Generator``; the caller seeds it from
(renderer, prompt) so one renderer always draws one prompt the same way.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from karena.generators.demo_prompts import COLOURS, SHAPES, Group, Scene

__all__ = ["IMAGE_SIZE", "add_artifacts", "blur_and_noise", "draw_scene", "encode_png"]

IMAGE_SIZE = 256
#: Drawn at this multiple and downsampled, which anti-aliases the edges.
_SUPERSAMPLE = 2
_Box = tuple[float, float, float, float]


def _regions(scene: Scene) -> list[_Box]:
    """Where each group goes, as (x0, y0, x1, y1) fractions of the canvas."""
    full: _Box = (0.04, 0.04, 0.96, 0.96)
    if len(scene.groups) == 1 or scene.relation is None:
        return [full]
    left: _Box = (0.03, 0.1, 0.49, 0.9)
    right: _Box = (0.51, 0.1, 0.97, 0.9)
    top: _Box = (0.1, 0.03, 0.9, 0.49)
    bottom: _Box = (0.1, 0.51, 0.9, 0.97)
    first, second = {
        "left of": (left, right),
        "right of": (right, left),
        "above": (top, bottom),
        "below": (bottom, top),
    }[scene.relation]
    return [first, second]


def _grid(n: int, width: float, height: float) -> tuple[int, int]:
    """Columns and rows for ``n`` items in a ``width`` x ``height`` box, cells near square."""
    best = (n, 1)
    best_cell = 0.0
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        cell = min(width / cols, height / rows)
        if cell > best_cell:
            best, best_cell = (cols, rows), cell
    return best


def _star(cx: float, cy: float, r: float, rotation: float) -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.45
        angle = rotation + math.pi * i / 5 - math.pi / 2
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def _draw_shape(
    draw: ImageDraw.ImageDraw,
    shape: str,
    centre: tuple[float, float],
    radius: float,
    colour: tuple[int, int, int],
    rotation: float,
) -> None:
    cx, cy = centre
    outline = tuple(max(0, c - 60) for c in colour)
    width = max(1, int(radius * 0.06))
    if shape == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), colour, outline, width)
    elif shape == "square":
        s = radius * 0.88
        draw.rectangle((cx - s, cy - s, cx + s, cy + s), colour, outline, width)
    elif shape == "triangle":
        pts = [
            (cx + radius * math.cos(rotation + a), cy + radius * math.sin(rotation + a))
            for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)
        ]
        draw.polygon(pts, colour, outline, width)
    else:
        draw.polygon(_star(cx, cy, radius, rotation), colour, outline, width)


def draw_scene(
    scene: Scene,
    rng: np.random.Generator,
    *,
    shape_swap_probability: float = 0.0,
) -> Image.Image:
    """Draw ``scene`` cleanly; ``shape_swap_probability`` turns some shapes into other shapes."""
    size = IMAGE_SIZE * _SUPERSAMPLE
    tone = int(rng.integers(236, 252))
    image = Image.new("RGB", (size, size), (tone, tone, min(255, tone + 3)))
    draw = ImageDraw.Draw(image)
    for group, (x0, y0, x1, y1) in zip(scene.groups, _regions(scene), strict=True):
        _draw_group(
            draw, group, (x0 * size, y0 * size, x1 * size, y1 * size), rng, shape_swap_probability
        )
    return image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)


def _draw_group(
    draw: ImageDraw.ImageDraw,
    group: Group,
    box: _Box,
    rng: np.random.Generator,
    shape_swap_probability: float,
) -> None:
    x0, y0, x1, y1 = box
    cols, rows = _grid(group.count, x1 - x0, y1 - y0)
    cell_w, cell_h = (x1 - x0) / cols, (y1 - y0) / rows
    # Centre a partly filled last row so the group reads as one cluster.
    for index in range(group.count):
        row, col = divmod(index, cols)
        in_row = min(cols, group.count - row * cols)
        offset = (cols - in_row) * cell_w / 2
        cell = min(cell_w, cell_h)
        radius = cell * float(rng.uniform(0.28, 0.36))
        jitter = cell * 0.06
        cx = x0 + offset + (col + 0.5) * cell_w + float(rng.uniform(-jitter, jitter))
        cy = y0 + (row + 0.5) * cell_h + float(rng.uniform(-jitter, jitter))
        shape = group.shape
        if shape_swap_probability > 0 and rng.random() < shape_swap_probability:
            others = [s for s in SHAPES if s != shape]
            shape = others[int(rng.integers(len(others)))]
        rotation = float(rng.uniform(-0.25, 0.25))
        _draw_shape(draw, shape, (cx, cy), radius, COLOURS[group.colour], rotation)


def blur_and_noise(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The "blurry" profile: low resolution, Gaussian blur and sensor-like noise."""
    small = image.resize((IMAGE_SIZE // 5, IMAGE_SIZE // 5), Image.Resampling.BILINEAR)
    soft = small.resize(image.size, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(3))
    pixels = np.asarray(soft, dtype=np.float32)
    noisy = pixels + rng.normal(0.0, 22.0, size=pixels.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def add_artifacts(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The "glitch" profile: shifted scanlines, a colour-channel offset and corrupt blocks."""
    pixels = np.asarray(image, dtype=np.uint8).copy()
    height, width, _ = pixels.shape
    for _ in range(int(rng.integers(4, 8))):
        y = int(rng.integers(0, height - 8))
        band = int(rng.integers(3, 14))
        pixels[y : y + band] = np.roll(pixels[y : y + band], int(rng.integers(-40, 40)), axis=1)
    pixels[:, :, 0] = np.roll(pixels[:, :, 0], int(rng.integers(5, 10)), axis=1)
    for _ in range(int(rng.integers(3, 6))):
        bw, bh = int(rng.integers(16, 48)), int(rng.integers(8, 32))
        bx, by = int(rng.integers(0, width - bw)), int(rng.integers(0, height - bh))
        block = rng.integers(0, 256, size=(1, 1, 3))
        noisy_block = block + rng.integers(-30, 30, size=(bh, bw, 3))
        pixels[by : by + bh, bx : bx + bw] = np.clip(noisy_block, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def encode_png(image: Image.Image) -> bytes:
    """Encode as PNG with no text chunks or other metadata."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
