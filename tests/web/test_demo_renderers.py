"""The demo renderers draw what their quality profile promises, deterministically."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from karena.errors import InvalidInput, NotFound
from karena.generators.demo import DEMO_ORGANIZATION, DEMO_RENDERERS, demo_prompt_texts, render_demo
from karena.generators.demo_prompts import COLOURS, Group, Scene, demo_prompts, parse_scene


def _image(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int32)


def _blobs(pixels: np.ndarray, colour: str, tolerance: int = 40) -> int:
    """Connected regions of (roughly) ``colour`` big enough to be a shape."""
    target = np.array(COLOURS[colour])
    mask = np.abs(pixels - target).max(axis=2) < tolerance
    labels, n = ndimage.label(mask)
    sizes = ndimage.sum(mask, labels, range(1, n + 1))
    return int((np.asarray(sizes) > 60).sum())


def test_prompt_set_is_large_distinct_and_deterministic() -> None:
    prompts = demo_prompt_texts()
    assert len(prompts) >= 60
    assert len(set(prompts)) == len(prompts)
    assert prompts == demo_prompt_texts()
    assert any(" left of " in p for p in prompts) and any(" above " in p for p in prompts)


def test_every_grammar_scene_parses_back_to_itself() -> None:
    for scene in demo_prompts(72):
        assert parse_scene(scene.text()) == scene


def test_free_text_is_read_leniently_and_nonsense_is_refused() -> None:
    scene = parse_scene("Please draw 3 RED circles, left of a blue square!")
    assert scene == Scene((Group(3, "red", "circle"), Group(1, "blue", "square")), "left of")
    with pytest.raises(InvalidInput):
        parse_scene("a photo of an astronaut riding a horse")


def test_renderers_are_labelled_as_demo_and_at_least_five() -> None:
    assert len(DEMO_RENDERERS) >= 5
    assert all(r.name.startswith("demo-") for r in DEMO_RENDERERS)
    assert DEMO_ORGANIZATION == "karena demo"
    with pytest.raises(NotFound):
        render_demo("dall-e", "a red circle")


def test_rendering_is_deterministic_per_renderer_and_prompt() -> None:
    prompt = "two green stars above three purple squares"
    outputs = {r.name: render_demo(r.name, prompt) for r in DEMO_RENDERERS}
    assert outputs == {r.name: render_demo(r.name, prompt) for r in DEMO_RENDERERS}
    assert len(set(outputs.values())) == len(outputs)


def test_png_carries_no_text_metadata() -> None:
    image = Image.open(io.BytesIO(render_demo("demo-faithful", "a red circle")))
    assert image.format == "PNG"
    assert image.size == (256, 256)
    assert not image.info.get("exif") and not getattr(image, "text", {})


@pytest.mark.parametrize(
    "prompt",
    [
        "three red circles left of a blue square",
        "four yellow stars",
        "two pink triangles below a green circle",
    ],
)
def test_faithful_draws_the_right_counts_and_miscount_does_not(prompt: str) -> None:
    scene = parse_scene(prompt)
    faithful = _image(render_demo("demo-faithful", prompt))
    miscount = _image(render_demo("demo-miscount", prompt))
    for group in scene.groups:
        assert _blobs(faithful, group.colour) == group.count
        assert _blobs(miscount, group.colour) != group.count


def test_colourblind_avoids_the_asked_colours() -> None:
    prompt = "three red circles left of a blue square"
    wrong = _image(render_demo("demo-colourblind", prompt))
    assert _blobs(wrong, "red") == 0 and _blobs(wrong, "blue") == 0


def test_mirror_reverses_the_relation() -> None:
    prompt = "a red square left of a blue circle"
    for name, red_on_left in (("demo-faithful", True), ("demo-mirror", False)):
        pixels = _image(render_demo(name, prompt))
        red = np.abs(pixels - np.array(COLOURS["red"])).max(axis=2) < 40
        blue = np.abs(pixels - np.array(COLOURS["blue"])).max(axis=2) < 40
        red_x = np.nonzero(red)[1].mean()
        blue_x = np.nonzero(blue)[1].mean()
        assert (red_x < blue_x) == red_on_left


def test_blurry_has_soft_edges_and_glitch_has_artifacts() -> None:
    prompt = "three red circles left of a blue square"

    def edge_strength(name: str) -> float:
        # A median filter removes the blurry profile's noise, leaving its (soft) edges.
        grey = ndimage.median_filter(_image(render_demo(name, prompt)).mean(axis=2), 5)
        return float(np.percentile(np.abs(ndimage.sobel(grey)), 99))

    assert edge_strength("demo-blurry") < 0.5 * edge_strength("demo-faithful")
    faithful = _image(render_demo("demo-faithful", prompt))
    glitch = _image(render_demo("demo-glitch", prompt))
    assert np.abs(glitch - faithful).mean() > 5.0
