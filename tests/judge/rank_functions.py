"""Local Python judges for the tests: rank images by the hidden quality the test images carry."""

from __future__ import annotations

import hashlib

import numpy as np

from tests.judge.judge_server import read_quality


def by_red(prompt: str, outputs: list[bytes]) -> list[int]:
    """Best first by mean red, with seeded noise of 3 red units (a pure function of the input)."""
    seed = int.from_bytes(hashlib.sha256(b"".join(outputs) + prompt.encode()).digest()[:8], "big")
    noise = np.random.default_rng(seed).normal(0.0, 3.0, len(outputs))
    seen = [read_quality(o) + n for o, n in zip(outputs, noise, strict=True)]
    return [int(i) for i in np.argsort(seen)[::-1]]


def half_wrong(prompt: str, outputs: list[bytes]) -> list[int]:
    """A duplicate index for every second prompt (unreadable), else a correct order."""
    order = by_red(prompt, outputs)
    return [order[0], *order[:-1]] if int(prompt.split()[2].rstrip(":")) % 2 else order


def broken(prompt: str, outputs: list[bytes]) -> list[int]:
    raise RuntimeError("the local model ran out of memory")


class RedRanker:
    """A judge object: ``rank(prompt, outputs)``, built without arguments."""

    def rank(self, prompt: str, outputs: list[bytes]) -> list[int]:
        return by_red(prompt, outputs)
