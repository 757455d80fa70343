"""The live-generator contract: given a prompt, return the bytes of one output."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["GeneratedOutput", "Generator"]


@dataclass(frozen=True, slots=True)
class GeneratedOutput:
    """Raw bytes from a generator (validated and re-encoded by the media store) and metadata."""

    data: bytes
    metadata: Mapping[str, Any] = field(default_factory=dict)


class Generator(Protocol):
    """Anything that turns a prompt into one output. Raise UpstreamError on failure."""

    def generate(self, prompt: str) -> GeneratedOutput:
        """Generate one output for ``prompt``."""
        ...
