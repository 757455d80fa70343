"""The demo prompt grammar: compositional scenes of counted, coloured shapes in relation.

Grammar (one or two groups)::

    prompt   := group | group " " relation " " group
    group    := count " " colour " " shape["s"]
    count    := "a" | "one" | "two" | "three" | "four"
    colour   := red | orange | yellow | green | blue | purple | pink | black
    shape    := circle | square | triangle | star
    relation := "left of" | "right of" | "above" | "below"

The demo prompt set is generated from this grammar with a fixed seed, so every install of karena
shows the same prompts. :func:`parse_scene` also reads free text typed by a voter, leniently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from karena.errors import InvalidInput

__all__ = [
    "COLOURS",
    "COUNT_WORDS",
    "RELATIONS",
    "SHAPES",
    "Group",
    "Scene",
    "demo_prompts",
    "parse_scene",
]

#: Colour name -> RGB. Chosen to be distinct for most viewers at a glance.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 38, 38),
    "orange": (245, 140, 20),
    "yellow": (240, 205, 20),
    "green": (34, 160, 70),
    "blue": (37, 99, 235),
    "purple": (130, 60, 200),
    "pink": (240, 110, 180),
    "black": (25, 25, 25),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
COUNT_WORDS: dict[int, str] = {1: "one", 2: "two", 3: "three", 4: "four"}
_WORD_COUNTS: dict[str, int] = {
    "a": 1,
    "an": 1,
    "one": 1,
    "single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
    "5": 5,
    "6": 6,
}
MAX_COUNT = 6
#: The seed of the shipped prompt set; changing it changes every demo arena.
PROMPT_SET_SEED = 20240826


@dataclass(frozen=True, slots=True)
class Group:
    """``count`` shapes of one colour, e.g. three red circles."""

    count: int
    colour: str
    shape: str

    def phrase(self) -> str:
        """The group in words: "a blue square", "three red circles"."""
        if self.count == 1:
            return f"a {self.colour} {self.shape}"
        word = COUNT_WORDS.get(self.count, str(self.count))
        return f"{word} {self.colour} {self.shape}s"


@dataclass(frozen=True, slots=True)
class Scene:
    """One or two groups; with two, ``relation`` places the first relative to the second."""

    groups: tuple[Group, ...]
    relation: str | None = None

    def text(self) -> str:
        """The canonical prompt for this scene."""
        if self.relation is None or len(self.groups) == 1:
            return self.groups[0].phrase()
        return f"{self.groups[0].phrase()} {self.relation} {self.groups[1].phrase()}"


def _random_group(rng: np.random.Generator, avoid: Group | None = None) -> Group:
    colours = list(COLOURS)
    while True:
        group = Group(
            count=int(rng.integers(1, 5)),
            colour=colours[int(rng.integers(len(colours)))],
            shape=SHAPES[int(rng.integers(len(SHAPES)))],
        )
        # Two groups with the same colour and shape would make positions unreadable.
        if avoid is None or (group.colour, group.shape) != (avoid.colour, avoid.shape):
            return group


def demo_prompts(n: int = 72, seed: int = PROMPT_SET_SEED) -> list[Scene]:
    """The demo prompt set: ``n`` distinct scenes, a third single-group, drawn with ``seed``."""
    if n < 1:
        raise InvalidInput(f"the demo prompt set needs n >= 1, got {n}")
    rng = np.random.default_rng(seed)
    scenes: list[Scene] = []
    seen: set[str] = set()
    attempts = 0
    while len(scenes) < n:
        attempts += 1
        if attempts > 100 * n:
            raise InvalidInput(f"the grammar cannot produce {n} distinct prompts")
        first = _random_group(rng)
        if len(scenes) % 3 == 0:
            scene = Scene((first,))
        else:
            second = _random_group(rng, avoid=first)
            relation = RELATIONS[int(rng.integers(len(RELATIONS)))]
            scene = Scene((first, second), relation)
        if scene.text() not in seen:
            seen.add(scene.text())
            scenes.append(scene)
    return scenes


_TOKEN = re.compile(r"[a-z0-9]+")


def _parse_group(tokens: list[str]) -> Group | None:
    """Find a count, a colour and a shape among ``tokens``; None when no shape is named."""
    count = 1
    colour: str | None = None
    shape: str | None = None
    for token in tokens:
        if token in _WORD_COUNTS and shape is None:
            count = _WORD_COUNTS[token]
        elif token in COLOURS and shape is None:
            colour = token
        else:
            singular = token[:-1] if token.endswith("s") else token
            if singular in SHAPES and shape is None:
                shape = singular
    if shape is None:
        return None
    return Group(min(count, MAX_COUNT), colour if colour is not None else "black", shape)


def parse_scene(text: str) -> Scene:
    """Read a scene from free text such as "three red circles left of a blue square".

    Unknown words are ignored; a missing colour means black. Raises :class:`InvalidInput` when
    no shape is named, since the demo renderers can draw nothing else.
    """
    lowered = " ".join(_TOKEN.findall(text.lower()))
    for relation in RELATIONS:
        marker = f" {relation} "
        if marker in f" {lowered} ":
            left, _, right = f" {lowered} ".partition(marker)
            first, second = _parse_group(left.split()), _parse_group(right.split())
            if first is not None and second is not None:
                return Scene((first, second), relation)
    group = _parse_group(lowered.split())
    if group is None:
        raise InvalidInput(
            "the demo renderers draw only coloured shapes; try e.g. "
            "'three red circles left of a blue square'",
            detail={"shapes": list(SHAPES), "colours": list(COLOURS), "relations": list(RELATIONS)},
        )
    return Scene((group,))
