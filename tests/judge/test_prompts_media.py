"""Rule sets (built in and overridden), and how outputs are encoded for the judge."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from karena.errors import InvalidInput, UnsupportedMedia
from karena.judge.media import Media, content_parts, have_video_decoder, sniff_type
from karena.judge.parsing import parse_ranking
from karena.judge.prompts import IMAGE_RULES, VIDEO_RULES, build_instruction, load_rules


def test_builtin_rules_carry_the_paper_weights() -> None:
    assert IMAGE_RULES.groups() == {"visual aesthetics": 50, "alignment with the description": 50}
    assert sum(c.weight for c in VIDEO_RULES.criteria) == 100
    text = build_instruction(IMAGE_RULES, "a cat", 5)
    for piece in (
        "photorealism (30%)",
        "light and shadow (10%)",
        "entity matching (30%)",
        '"a cat"',
    ):
        assert piece in text
    assert parse_ranking(text.split("strict format:")[1], 5) == (2, 0, 4, 1, 3)
    assert "Video 1" in build_instruction(VIDEO_RULES, "a dog", 5)


def test_json_override(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"groups": {"realism": {"sharpness": 3, "colour": 1}}}))
    rules = load_rules(path, IMAGE_RULES)
    text = build_instruction(rules, "p", 3)
    assert "realism (100%)" in text and "sharpness (75%)" in text and "colour (25%)" in text
    assert "entity" not in text


def test_template_override_keeps_the_strict_format(tmp_path: Path) -> None:
    path = tmp_path / "rules.txt"
    path.write_text("Judge {n} pictures of '{prompt}' by {criteria}")
    text = build_instruction(load_rules(path, IMAGE_RULES), "a boat", 4)
    assert text.startswith("Judge 4 pictures of 'a boat' by visual aesthetics (50%)")
    assert "Image 3, Image 1, Image 2, Image 4" in text


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("{", ".json", "not valid JSON"),
        ('{"groups": {"a": {"b": -1}}}', ".json", "must be > 0"),
        ('{"groups": {"a": {"b": "x"}}}', ".json", "must be a number"),
        ('{"label": "two words"}', ".json", "single word"),
        ("Judge {unknown}", ".txt", "unknown placeholder"),
        ("", ".txt", "empty"),
    ],
)
def test_bad_overrides_are_rejected_clearly(
    tmp_path: Path, content: str, suffix: str, message: str
) -> None:
    path = tmp_path / f"rules{suffix}"
    path.write_text(content)
    with pytest.raises(InvalidInput, match=message):
        load_rules(path, IMAGE_RULES)


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, format="PNG")
    return buf.getvalue()


def _gif(frames: int) -> bytes:
    buf = io.BytesIO()
    images = [Image.new("RGB", (8, 8), (i * 20, 0, 0)) for i in range(frames)]
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=40)
    return buf.getvalue()


def test_images_go_as_base64_data_urls() -> None:
    parts = content_parts(Media.from_bytes(_png()), "Image 2")
    assert parts[0] == {"type": "text", "text": "Image 2:"}
    url = parts[1]["image_url"]["url"]  # type: ignore[index]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == _png()


def test_animated_video_is_sampled_into_frames() -> None:
    parts = content_parts(Media.from_bytes(_gif(20)), "Video 1", frames=8)
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == 8
    assert all(p["image_url"]["url"].startswith("data:image/jpeg;base64,") for p in images)  # type: ignore[index]
    assert (
        len(
            [
                p
                for p in content_parts(Media.from_bytes(_gif(3)), "Video 1")
                if p["type"] == "image_url"
            ]
        )
        == 3
    )


def test_mp4_without_a_decoder_is_sent_whole_or_refused_clearly() -> None:
    mp4 = Media(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4")
    assert sniff_type(mp4.data) == "video/mp4"
    if have_video_decoder():
        pytest.skip("PyAV is installed here; the no-decoder paths do not apply")
    parts = content_parts(mp4, "Video 1", mode="auto")
    assert parts[1]["type"] == "video_url"
    with pytest.raises(UnsupportedMedia, match="pip install av"):
        content_parts(mp4, "Video 1", mode="frames")


def test_unknown_bytes_are_refused() -> None:
    with pytest.raises(UnsupportedMedia):
        Media.from_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
