"""karena's demo renderers: procedural "models" with visible, different quality profiles.

They are NOT real generative models. Each draws a compositional prompt ("three red circles left
of a blue square") with Pillow, and each gets something characteristic wrong, so a person's
ranking of their outputs is meaningful and a demo arena converges to a sensible leaderboard.
Output is deterministic per (renderer, prompt).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from karena.errors import NotFound
from karena.generators.base import GeneratedOutput
from karena.generators.demo_prompts import (
    COLOURS,
    MAX_COUNT,
    Group,
    Scene,
    demo_prompts,
    parse_scene,
)
from karena.generators.demo_render import add_artifacts, blur_and_noise, draw_scene, encode_png

__all__ = [
    "DEMO_ORGANIZATION",
    "DEMO_RENDERERS",
    "DemoRenderer",
    "demo_prompt_texts",
    "get_renderer",
    "render_demo",
]

DEMO_ORGANIZATION = "karena demo"
DEMO_CATEGORY = "demo-shapes"
DEMO_SOURCE = "karena demo grammar"


def _seed(renderer: str, prompt: str, salt: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{renderer}\x00{prompt}\x00{salt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _miscount(scene: Scene, rng: np.random.Generator) -> Scene:
    """Every group gets one too many or one too few (never zero)."""
    groups = []
    for group in scene.groups:
        step = 1 if group.count == 1 or rng.random() < 0.5 else -1
        groups.append(replace(group, count=min(MAX_COUNT, group.count + step)))
    return replace(scene, groups=tuple(groups))


def _recolour(scene: Scene, rng: np.random.Generator) -> Scene:
    """Every group is painted in a different colour than asked for."""
    groups = []
    for group in scene.groups:
        others = [c for c in COLOURS if c != group.colour]
        groups.append(replace(group, colour=others[int(rng.integers(len(others)))]))
    return replace(scene, groups=tuple(groups))


_MIRRORED = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def _misplace(scene: Scene, rng: np.random.Generator) -> Scene:
    """The spatial relation is reversed; a single group loses one shape as well."""
    if scene.relation is not None and len(scene.groups) == 2:
        return replace(scene, relation=_MIRRORED[scene.relation])
    group = scene.groups[0]
    return replace(scene, groups=(Group(max(1, group.count - 1), group.colour, group.shape),))


@dataclass(frozen=True, slots=True)
class DemoRenderer:
    """One demo renderer: how it distorts the scene, and how it degrades the image."""

    name: str
    profile: str
    description: str
    distort: Callable[[Scene, np.random.Generator], Scene] | None = None
    shape_swap_probability: float = 0.0
    degrade: Callable[..., object] | None = None

    def render(self, prompt: str) -> bytes:
        """Draw ``prompt`` as a PNG; raises InvalidInput when no shape is named."""
        scene = parse_scene(prompt)
        rng = _seed(self.name, prompt, "scene")
        if self.distort is not None:
            scene = self.distort(scene, rng)
        image = draw_scene(scene, rng, shape_swap_probability=self.shape_swap_probability)
        if self.degrade is not None:
            image = self.degrade(image, rng)  # type: ignore[assignment]
        return encode_png(image)

    def generate(self, prompt: str) -> GeneratedOutput:
        """The live-generator protocol (karena.generators.base.Generator)."""
        return GeneratedOutput(self.render(prompt))


#: The shipped renderers, best first by design (a person should rank them roughly like this).
DEMO_RENDERERS: tuple[DemoRenderer, ...] = (
    DemoRenderer(
        "demo-faithful",
        "faithful",
        "Draws exactly what the prompt asks: right counts, colours, shapes and positions.",
    ),
    DemoRenderer(
        "demo-mirror",
        "wrong positions",
        "Clean drawing, but the spatial relation is reversed (left becomes right).",
        distort=_misplace,
    ),
    DemoRenderer(
        "demo-blurry",
        "noisy and blurred",
        "Right content, but low resolution, blurred and noisy.",
        degrade=blur_and_noise,
    ),
    DemoRenderer(
        "demo-miscount",
        "wrong counts",
        "Clean drawing with one shape too many or too few in every group.",
        distort=_miscount,
    ),
    DemoRenderer(
        "demo-colourblind",
        "wrong colours",
        "Clean drawing in the wrong colours.",
        distort=_recolour,
    ),
    DemoRenderer(
        "demo-glitch",
        "artifacts",
        "Scanline tears, a colour-channel offset, corrupt blocks, and some shapes drawn wrong.",
        shape_swap_probability=0.35,
        degrade=add_artifacts,
    ),
)


def get_renderer(name: str) -> DemoRenderer:
    """The demo renderer called ``name``."""
    for renderer in DEMO_RENDERERS:
        if renderer.name == name:
            return renderer
    raise NotFound(f"no demo renderer named {name!r}", detail=[r.name for r in DEMO_RENDERERS])


def render_demo(renderer: str, prompt: str) -> bytes:
    """PNG bytes of ``renderer``'s drawing of ``prompt`` (deterministic)."""
    return get_renderer(renderer).render(prompt)


def demo_prompt_texts(n: int = 72) -> list[str]:
    """The demo prompt set as text, in a fixed order."""
    return [scene.text() for scene in demo_prompts(n)]
