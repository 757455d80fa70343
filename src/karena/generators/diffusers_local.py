"""A live generator that runs a local ``diffusers`` pipeline (the extra ``karena[diffusers]``).

The pipeline is loaded once per generator, on first use, with
``DiffusionPipeline.from_pretrained(model)``: a folder written by ``save_pretrained`` or a
model id already in the local Hugging Face cache (``local_files_only`` unless the config sets
``allow_download``). Each prompt runs under a seed derived from the prompt (or the config's
``seed``), so the same prompt gives the same image. One call at a time: a pipeline is not
thread-safe, and a GPU runs one batch at a time anyway.
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass, field
from typing import Any

from karena.errors import ConfigError, UpstreamError
from karena.generators.base import GeneratedOutput

__all__ = ["DiffusersGenerator"]


@dataclass(frozen=True, slots=True)
class DiffusersGenerator:
    """``model``: a pipeline folder or cached model id; ``device``: ``cpu``, ``cuda``, ..."""

    model: str
    steps: int = 25
    guidance_scale: float | None = None
    width: int | None = None
    height: int | None = None
    device: str = "cpu"
    seed: int | None = None
    allow_download: bool = False
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def pipeline(self) -> Any:
        """The loaded pipeline (loaded on the first call)."""
        if "pipe" not in self._loaded:
            try:
                from diffusers import DiffusionPipeline
            except ImportError:
                raise ConfigError(
                    "the diffusers generator needs the extra: pip install 'karena[diffusers]'"
                ) from None
            try:
                pipe = DiffusionPipeline.from_pretrained(  # type: ignore[no-untyped-call]
                    self.model, local_files_only=not self.allow_download
                )
                pipe = pipe.to(self.device)
                pipe.set_progress_bar_config(disable=True)
            except (OSError, ValueError, RuntimeError) as exc:
                raise ConfigError(
                    f"cannot load the diffusers pipeline {self.model!r}: {str(exc)[:200]}"
                ) from None
            self._loaded["pipe"] = pipe
        return self._loaded["pipe"]

    def generate(self, prompt: str) -> GeneratedOutput:
        """Run the pipeline on ``prompt``; the first image as PNG."""
        import torch

        seed = self.seed
        if seed is None:
            seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big")
        kwargs: dict[str, Any] = {"num_inference_steps": self.steps}
        if self.guidance_scale is not None:
            kwargs["guidance_scale"] = self.guidance_scale
        if self.width is not None and self.height is not None:
            kwargs["width"], kwargs["height"] = self.width, self.height
        with self._lock:
            pipe = self.pipeline()
            try:
                gen = torch.Generator(device="cpu").manual_seed(seed)
                result = pipe(prompt, generator=gen, **kwargs)
            except (RuntimeError, ValueError) as exc:
                raise UpstreamError(
                    f"diffusers pipeline {self.model!r} failed: {type(exc).__name__}: "
                    f"{str(exc)[:200]}",
                    detail={"retryable": False},
                ) from None
        images = getattr(result, "images", None)
        if not images:
            raise UpstreamError(f"diffusers pipeline {self.model!r} returned no images")
        buf = io.BytesIO()
        images[0].save(buf, format="PNG")
        return GeneratedOutput(buf.getvalue(), {"generator": "diffusers", "seed": seed})
