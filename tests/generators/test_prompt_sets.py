"""Prompt sets for ``karena generate``: each file format, keys, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from karena.errors import InvalidInput
from karena.generators.gallery import read_prompt_file


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.txt", "one cat\n\ntwo dogs\n", {"0": ("one cat", ""), "2": ("two dogs", "")}),
        ("a.jsonl", '{"id": "x", "text": "one cat", "category": "pets"}\n{"prompt": "two dogs"}\n',
         {"x": ("one cat", "pets"), "1": ("two dogs", "")}),
        ("a.csv", "text,category\none cat,pets\ntwo dogs,\n",
         {"0": ("one cat", "pets"), "1": ("two dogs", "")}),
        ("a.tsv", "id\ttext\nk1\tone cat\n", {"k1": ("one cat", "")}),
        ("a.json", '[{"text": "one cat"}, "two dogs"]',
         {"0": ("one cat", ""), "1": ("two dogs", "")}),
        ("a.json", '{"k": "one cat"}', {"k": ("one cat", "")}),
    ],
)  # fmt: skip
def test_each_format_gives_keys_and_texts(
    tmp_path: Path, name: str, text: str, expected: dict[str, tuple[str, str]]
) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert read_prompt_file(path, 10_000) == expected


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.md", "x", "a prompt set is a"),
        ("a.txt", "\n\n", "holds no prompts"),
        ("a.json", "{not json", "not valid JSON"),
        ("a.jsonl", "[1, 2]\n", "must be a JSON object"),
        ("a.txt", "x" * 50, "larger than 20 bytes"),
    ],
)
def test_bad_prompt_sets_are_clear_errors(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InvalidInput, match=message):
        read_prompt_file(path, 20)
