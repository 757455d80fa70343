"""Diffusion-DPO with ArenaPO gaps (METHODS §3.2 step 3; a reconstruction). Needs ``karena[train]``.

Importing this package never imports torch. The torch-backed names (the loss, the trainer, the
dataset) are loaded on first access and raise :class:`karena.errors.ConfigError` with an install
hint when torch or diffusers is missing.
"""

from __future__ import annotations

import importlib
from typing import Any

from karena.reward.dpo.config import (
    VARIANTS,
    DPOConfig,
    Variant,
    require_train_extra,
    train_available,
)

__all__ = [
    "VARIANTS",
    "DPOConfig",
    "DiffusionDPOTrainer",
    "LossOutput",
    "PreferenceDataset",
    "Variant",
    "diffusion_dpo_loss",
    "epsilon_errors",
    "require_train_extra",
    "tiny_unet",
    "train_available",
]

_LAZY = {
    "LossOutput": "karena.reward.dpo.losses",
    "diffusion_dpo_loss": "karena.reward.dpo.losses",
    "epsilon_errors": "karena.reward.dpo.losses",
    "DiffusionDPOTrainer": "karena.reward.dpo.trainer",
    "tiny_unet": "karena.reward.dpo.trainer",
    "PreferenceDataset": "karena.reward.dpo.data",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    require_train_extra()
    return getattr(importlib.import_module(module), name)
