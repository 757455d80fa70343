"""Training pairs for Diffusion-DPO: exported ArenaPO rewards joined with latents or images on disk.

What it expects (checked up front, with a clear error listing what is missing):

- a rewards file written by ``karena rewards`` (columns ``image_w``, ``image_l``, ``gap_norm``,
  ``tie`` and, for text conditioning, ``caption``);
- for every untied pair, the two images as files under ``root``: either VAE latents saved as
  ``.npy`` arrays of shape (C, H, W) (``kind="latents"``, the normal case: encode images with the
  VAE of the model you train, beforehand), or image files that are resized to ``resolution`` and
  scaled to [−1, 1] (``kind="pixels"``, for pixel-space models such as the tiny smoke config);
- optionally, text-encoder outputs as an ``.npz`` with ``captions`` (N strings) and
  ``embeddings`` (N, S, D); without it every pair is conditioned on zeros (unconditional).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from karena.errors import InvalidInput
from karena.reward.export import RewardTable, read_rewards

__all__ = ["PreferenceBatch", "PreferenceDataset"]

Kind = Literal["latents", "pixels"]
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class PreferenceBatch:
    """A batch of preference pairs: winner and loser inputs, conditioning and normalised gaps."""

    x_w: torch.Tensor
    x_l: torch.Tensor
    cond: torch.Tensor
    gap: torch.Tensor


class PreferenceDataset:
    """Untied pairs of a rewards file with their inputs resolved to files under ``root``."""

    def __init__(
        self,
        rewards: str | Path | RewardTable,
        root: str | Path,
        *,
        kind: Kind = "latents",
        resolution: int = 64,
        text_embeddings: str | Path | None = None,
        null_embedding_shape: tuple[int, int] = (1, 768),
    ) -> None:
        table = rewards if isinstance(rewards, RewardTable) else read_rewards(rewards)
        for column in ("image_w", "image_l"):
            if column not in table.columns:
                raise InvalidInput(
                    f"the rewards file has no {column!r} column: it must come from a source "
                    "that names the images (Pick-a-Pic or HPD style)"
                )
        if kind not in ("latents", "pixels"):
            raise InvalidInput(f"kind must be 'latents' or 'pixels', got {kind!r}")
        self.root = Path(root)
        self.kind: Kind = kind
        self.resolution = resolution
        keep = ~np.asarray(table.columns["tie"], dtype=bool)
        self.image_w = [str(v) for v in table.columns["image_w"][keep]]
        self.image_l = [str(v) for v in table.columns["image_l"][keep]]
        self.gap = np.asarray(table.columns["gap_norm"], dtype=np.float32)[keep]
        captions = table.columns.get("caption")
        self.captions = (
            ["" if c is None else str(c) for c in captions[keep]]
            if captions is not None
            else [""] * len(self.gap)
        )
        if len(self.gap) == 0:
            raise InvalidInput("the rewards file has no untied pairs to train on")
        self.paths_w = [self._resolve(r) for r in self.image_w]
        self.paths_l = [self._resolve(r) for r in self.image_l]
        # One image is in many pairs: name each missing file once, in the order first met.
        missing = list(
            dict.fromkeys(str(p) for p in self.paths_w + self.paths_l if not p.is_file())
        )
        if missing:
            shown = ", ".join(missing[:3]) + (", …" if len(missing) > 3 else "")
            raise InvalidInput(f"{len(missing)} input files are missing under {self.root}: {shown}")
        self._embeddings: dict[str, np.ndarray] | None = None
        self._null = np.zeros(null_embedding_shape, dtype=np.float32)
        if text_embeddings is not None:
            self._embeddings = _load_embeddings(Path(text_embeddings))
            absent = sorted({c for c in self.captions if c not in self._embeddings})
            if absent:
                raise InvalidInput(
                    f"{len(absent)} captions have no text embedding, e.g. {absent[:3]}"
                )

    def __len__(self) -> int:
        return len(self.gap)

    def _resolve(self, ref: str) -> Path:
        path = Path(ref)
        if not path.is_absolute():
            path = self.root / path
        if self.kind == "latents" and path.suffix.lower() != ".npy":
            path = path.with_name(path.name + ".npy")
        return path

    def _load(self, path: Path) -> torch.Tensor:
        if self.kind == "latents":
            array = np.load(path)
            if array.ndim != 3:
                raise InvalidInput(f"{path}: latents must have shape (C, H, W), got {array.shape}")
            return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        from PIL import Image

        with Image.open(path) as img:
            rgb = img.convert("RGB").resize((self.resolution, self.resolution))
        pixels = np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0
        return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()

    def _condition(self, caption: str) -> np.ndarray:
        if self._embeddings is None:
            return self._null
        return self._embeddings[caption]

    def batch(self, rows: np.ndarray) -> PreferenceBatch:
        """Load the pairs ``rows`` (indices into this dataset) as one batch."""
        return PreferenceBatch(
            x_w=torch.stack([self._load(self.paths_w[i]) for i in rows]),
            x_l=torch.stack([self._load(self.paths_l[i]) for i in rows]),
            cond=torch.from_numpy(np.stack([self._condition(self.captions[i]) for i in rows])),
            gap=torch.from_numpy(self.gap[rows]),
        )


def _load_embeddings(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InvalidInput(f"no such text-embeddings file: {path}")
    with np.load(path, allow_pickle=False) as data:
        if "captions" not in data or "embeddings" not in data:
            raise InvalidInput(f"{path}: needs arrays 'captions' (N,) and 'embeddings' (N, S, D)")
        captions = [str(c) for c in data["captions"]]
        embeddings = np.asarray(data["embeddings"], dtype=np.float32)
    if embeddings.ndim != 3 or len(embeddings) != len(captions):
        raise InvalidInput(f"{path}: embeddings must be (N, S, D) with N = len(captions)")
    return dict(zip(captions, embeddings, strict=True))
