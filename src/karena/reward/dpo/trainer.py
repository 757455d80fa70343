"""The Diffusion-DPO training loop: frozen reference, gradient accumulation, save and resume."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import DDPMScheduler, UNet2DConditionModel

from karena.errors import InvalidInput
from karena.reward.dpo.config import DPOConfig
from karena.reward.dpo.data import PreferenceBatch, PreferenceDataset
from karena.reward.dpo.losses import LossOutput, diffusion_dpo_loss, epsilon_errors

__all__ = ["DiffusionDPOTrainer", "tiny_unet"]

CHECKPOINT_PREFIX = "checkpoint-"


def tiny_unet(
    in_channels: int = 4, sample_size: int = 8, cross_attention_dim: int = 8, seed: int = 0
) -> UNet2DConditionModel:
    """A randomly initialised ~50k-parameter UNet2DConditionModel for CPU smoke runs and tests."""
    torch.manual_seed(seed)
    unet_class: Any = UNet2DConditionModel  # diffusers is untyped
    model: UNet2DConditionModel = unet_class(
        sample_size=sample_size,
        in_channels=in_channels,
        out_channels=in_channels,
        layers_per_block=1,
        block_out_channels=(8, 16),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        norm_num_groups=4,
        attention_head_dim=2,
    )
    return model


def _predict(net: torch.nn.Module, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> Any:
    """ε̂ from any model called as ``net(x_t, t, encoder_hidden_states=cond)``."""
    out = net(x_t, t, encoder_hidden_states=cond)
    if hasattr(out, "sample"):
        return out.sample
    if isinstance(out, tuple):
        return out[0]
    return out


class DiffusionDPOTrainer:
    """Trains ``model`` with the Diffusion-DPO loss against a frozen copy of its initial weights.

    ``model`` is a diffusers ``UNet2DConditionModel`` or any ε-prediction module with the same
    call signature. Both images of a pair share one timestep and one noise draw, as in Wallace et
    al. 2023. Batches are drawn in epoch permutations derived from ``config.seed``, so a resumed
    run sees exactly the batches an uninterrupted one would.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: DPOConfig,
        *,
        reference: torch.nn.Module | None = None,
        scheduler: DDPMScheduler | None = None,
        device: str = "cpu",
    ) -> None:
        self.config = config
        self.device = torch.device(device)
        self.model = model.to(self.device).train()
        ref = reference if reference is not None else copy.deepcopy(model)
        self.reference = ref.to(self.device).eval().requires_grad_(False)
        scheduler_class: Any = DDPMScheduler  # diffusers is untyped
        self.scheduler: Any = (
            scheduler
            if scheduler is not None
            else scheduler_class(num_train_timesteps=config.num_train_timesteps)
        )
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad],
            lr=config.learning_rate,
            weight_decay=config.weight_decay,
        )
        self.step = 0
        self.generator = torch.Generator(device="cpu").manual_seed(config.seed)

    # -- one batch -------------------------------------------------------------------------
    def loss_on_batch(
        self,
        batch: PreferenceBatch,
        *,
        noise: torch.Tensor | None = None,
        timesteps: torch.Tensor | None = None,
    ) -> LossOutput:
        """The loss of ``batch``; pass ``noise``/``timesteps`` to fix the draws, else sampled."""
        x_w, x_l = batch.x_w.to(self.device), batch.x_l.to(self.device)
        n = x_w.shape[0]
        if noise is None:
            noise = torch.randn(x_w.shape, generator=self.generator)
        if timesteps is None:
            timesteps = torch.randint(
                0, self.scheduler.config.num_train_timesteps, (n,), generator=self.generator
            )
        eps = torch.cat([noise, noise]).to(self.device)
        t = torch.cat([timesteps, timesteps]).to(self.device)
        cond = torch.cat([batch.cond, batch.cond]).to(self.device)
        x_t = self.scheduler.add_noise(torch.cat([x_w, x_l]), eps, t)
        model_err = epsilon_errors(_predict(self.model, x_t, t, cond), eps)
        with torch.no_grad():
            ref_err = epsilon_errors(_predict(self.reference, x_t, t, cond), eps)
        model_w, model_l = model_err.chunk(2)
        ref_w, ref_l = ref_err.chunk(2)
        return diffusion_dpo_loss(
            model_w, model_l, ref_w, ref_l,
            variant=self.config.variant, beta=self.config.beta, gap=batch.gap.to(self.device),
            gamma=self.config.gamma, margin=self.config.margin,
        )  # fmt: skip

    def train_step(self, batches: Sequence[PreferenceBatch]) -> dict[str, float]:
        """One optimizer step over ``batches`` (gradient accumulation: the mean of their losses)."""
        if not batches:
            raise InvalidInput("train_step needs at least one batch")
        self.optimizer.zero_grad(set_to_none=True)
        total, accuracy = 0.0, 0.0
        for batch in batches:
            out = self.loss_on_batch(batch)
            scaled: Any = out.loss / len(batches)
            scaled.backward()
            total += float(out.loss.detach()) / len(batches)
            accuracy += out.accuracy / len(batches)
        if self.config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.step += 1
        return {"step": float(self.step), "loss": total, "accuracy": accuracy}

    # -- the loop --------------------------------------------------------------------------
    def rows_for_step(self, step: int, n: int) -> list[np.ndarray]:
        """The dataset rows of each micro-batch of optimizer step ``step`` (deterministic)."""
        per_step = self.config.batch_size * self.config.grad_accum
        idx = np.arange(step * per_step, (step + 1) * per_step)
        epochs, pos = np.divmod(idx, n)
        perms = {
            int(e): np.random.default_rng([self.config.seed, int(e)]).permutation(n)
            for e in set(epochs)
        }
        rows = np.array([perms[int(e)][p] for e, p in zip(epochs, pos, strict=True)])
        return np.split(rows, self.config.grad_accum)

    def fit(
        self,
        dataset: PreferenceDataset,
        *,
        checkpoint_dir: str | Path | None = None,
        on_step: Callable[[dict[str, float]], None] | None = None,
    ) -> list[dict[str, float]]:
        """Train until ``config.max_steps``, checkpointing every ``checkpoint_every`` steps."""
        history = []
        while self.step < self.config.max_steps:
            rows = self.rows_for_step(self.step, len(dataset))
            metrics = self.train_step([dataset.batch(r) for r in rows])
            history.append(metrics)
            if on_step is not None:
                on_step(metrics)
            every = self.config.checkpoint_every
            if checkpoint_dir is not None and every > 0 and self.step % every == 0:
                self.save_checkpoint(checkpoint_dir)
        if checkpoint_dir is not None:
            self.save_checkpoint(checkpoint_dir)
        return history

    # -- checkpoints -----------------------------------------------------------------------
    def save_checkpoint(self, directory: str | Path) -> Path:
        """Write ``checkpoint-<step>.pt`` (model, reference, optimizer, RNG, config) atomically."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{CHECKPOINT_PREFIX}{self.step:08d}.pt"
        tmp = path.with_suffix(".tmp")
        state = {
            "step": self.step,
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "reference": self.reference.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
        }
        torch.save(state, tmp)
        tmp.replace(path)
        (out / "latest.json").write_text(json.dumps({"checkpoint": path.name, "step": self.step}))
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore a checkpoint file, or the latest one of a checkpoint folder."""
        p = Path(path)
        if p.is_dir():
            pointer = p / "latest.json"
            if not pointer.is_file():
                raise InvalidInput(f"{p} holds no checkpoint (latest.json missing)")
            p = p / json.loads(pointer.read_text())["checkpoint"]
        if not p.is_file():
            raise InvalidInput(f"no such checkpoint: {p}")
        state = torch.load(p, map_location=self.device, weights_only=True)
        saved = DPOConfig(**state["config"])
        if saved.variant != self.config.variant or saved.seed != self.config.seed:
            raise InvalidInput(
                f"checkpoint was trained with variant={saved.variant}, seed={saved.seed}; "
                f"this run uses variant={self.config.variant}, seed={self.config.seed}"
            )
        self.model.load_state_dict(state["model"])
        self.reference.load_state_dict(state["reference"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.step = int(state["step"])
