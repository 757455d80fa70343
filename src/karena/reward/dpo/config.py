"""Torch-free parts of the trainer: the loss variants, the configuration, the extra's guard."""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from typing import Any, Literal

from karena.errors import ConfigError

__all__ = ["VARIANTS", "DPOConfig", "Variant", "require_train_extra", "train_available"]

Variant = Literal["plain", "fixed_margin", "adaptive_margin", "gap_weighted"]
VARIANTS: tuple[str, ...] = ("plain", "fixed_margin", "adaptive_margin", "gap_weighted")


def train_available() -> bool:
    """True when torch and diffusers can be imported."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "diffusers"))


def require_train_extra() -> None:
    """Raise a clear :class:`ConfigError` unless the ``karena[train]`` extra is installed."""
    missing = [m for m in ("torch", "diffusers") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"the Diffusion-DPO trainer needs {' and '.join(missing)}: "
            "install it with  pip install 'karena[train]'"
        )


@dataclass(frozen=True, slots=True)
class DPOConfig:
    """Everything that defines a training run (saved in every checkpoint).

    ``beta`` is the whole constant in front of the error difference: β_dpo·T·ω(λ_t) of METHODS
    §3.2 with constant weighting ω, as Wallace et al.'s released code uses (their β_dpo = 5000 with
    a factor 0.5 corresponds to ``beta = 2500``). ``gamma`` scales the adaptive margin γ·g;
    ``margin`` is the fixed margin m of the fixed-margin baseline.
    """

    variant: Variant = "adaptive_margin"
    beta: float = 2500.0
    gamma: float = 1.0
    margin: float = 1.0
    learning_rate: float = 1e-5
    weight_decay: float = 0.0
    batch_size: int = 4
    grad_accum: int = 1
    max_steps: int = 1000
    num_train_timesteps: int = 1000
    checkpoint_every: int = 100
    max_grad_norm: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ConfigError(f"unknown DPO variant {self.variant!r}; use one of {VARIANTS}")
        for name in ("batch_size", "grad_accum", "max_steps", "num_train_timesteps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if self.checkpoint_every < 0:
            raise ConfigError("checkpoint_every must be >= 0 (0 = only at the end)")
        if not self.beta > 0 or not self.learning_rate > 0:
            raise ConfigError("beta and learning_rate must be positive")
        if self.gamma < 0 or self.margin < 0:
            raise ConfigError("gamma and margin must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)
