"""The Diffusion-DPO loss (Wallace et al. 2023) and the ArenaPO gap variants (METHODS §3.2)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from karena.errors import InvalidInput
from karena.reward.dpo.config import VARIANTS, Variant

__all__ = ["LossOutput", "diffusion_dpo_loss", "epsilon_errors"]


@dataclass(frozen=True)
class LossOutput:
    """The batch loss and per-pair diagnostics (all detached except ``loss``).

    ``accuracy`` is the share of pairs whose implicit reward favours the winner (margin ignored).
    """

    loss: torch.Tensor
    per_pair: torch.Tensor
    logits: torch.Tensor
    accuracy: float


def epsilon_errors(prediction: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """‖ε − ε̂‖² per sample, averaged over every non-batch dimension (as Diffusion-DPO's code)."""
    return (prediction.float() - noise.float()).pow(2).flatten(1).mean(dim=1)


def diffusion_dpo_loss(
    model_err_w: torch.Tensor,
    model_err_l: torch.Tensor,
    ref_err_w: torch.Tensor,
    ref_err_l: torch.Tensor,
    *,
    variant: Variant,
    beta: float,
    gap: torch.Tensor | None = None,
    gamma: float = 1.0,
    margin: float = 0.0,
) -> LossOutput:
    r"""Diffusion-DPO loss with an optional ArenaPO gap term, averaged over the pairs.

    With d_w = e_θ(w) − e_ref(w), d_l = e_θ(l) − e_ref(l) (noise-prediction errors at the same
    x_t, t and ε for both images of a pair) and logits z = −β·(d_w − d_l):

    .. math::

        \text{plain:}\quad            & \ell = -\log\sigma(z) \\
        \text{fixed\_margin:}\quad    & \ell = -\log\sigma(z - m) \\
        \text{adaptive\_margin:}\quad & \ell = -\log\sigma(z - \gamma g) \\
        \text{gap\_weighted:}\quad    & \ell = -g \log\sigma(z)

    g is the normalised ArenaPO gap (mean 1 over the exported pairs), so the adaptive margin
    averages γ and the weights average 1. Wallace et al. 2023, Eq. 14; the gap variants are the
    reconstruction of METHODS §3.2.

    Raises
    ------
    InvalidInput
        For an unknown variant, mismatched shapes, or a gap variant without ``gap``.
    """
    if variant not in VARIANTS:
        raise InvalidInput(f"unknown DPO variant {variant!r}")
    shape = model_err_w.shape
    if any(t.shape != shape for t in (model_err_l, ref_err_w, ref_err_l)) or len(shape) != 1:
        raise InvalidInput("the four error tensors must be 1-D and of equal length")
    needs_gap = variant in ("adaptive_margin", "gap_weighted")
    if needs_gap and (gap is None or gap.shape != shape):
        raise InvalidInput(f"variant {variant!r} needs one gap per pair")
    raw = -beta * ((model_err_w - ref_err_w) - (model_err_l - ref_err_l))
    logits = raw
    if variant == "fixed_margin":
        logits = logits - margin
    elif variant == "adaptive_margin":
        assert gap is not None
        logits = logits - gamma * gap.to(logits.dtype)
    per_pair = -F.logsigmoid(logits)
    if variant == "gap_weighted":
        assert gap is not None
        per_pair = per_pair * gap.to(per_pair.dtype)
    return LossOutput(
        loss=per_pair.mean(),
        per_pair=per_pair.detach(),
        logits=logits.detach(),
        accuracy=float((raw.detach() > 0).float().mean()),
    )
