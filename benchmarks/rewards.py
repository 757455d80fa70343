"""ArenaPO rewards: gap throughput, capability fit time, agreement with batch BT, gap accuracy.

On the 1.67M Chatbot Arena votes (../shared/data; aggregated counts expanded to one row per vote in
the order documented in docs/rewards.md), this measures:

- the per-pair gap computation (``pair_gaps``: gather the two capabilities, truncated-normal
  mean and variance, ties) in pairs/s, median over repeats, against a naive
  ``scipy.stats.truncnorm`` baseline timed in the same run on a subset;
- the capability fit (numba pass of the K = 2 Thurstone update), median seconds per pass;
- the Spearman correlation of the fitted μ with batch Bradley–Terry (karena.rating.bradley_terry,
  ties as half wins) for data order, single shuffled passes and averaged shuffled passes;
- the accuracy of the closed-form moments: against truncnorm on a grid with |m/s| ≤ 40 and
  against 60-digit mpmath from z = −1e6 to 40.

    python benchmarks/rewards.py --quick      # < 1 minute on 2 cores
    python benchmarks/rewards.py              # the published figures

``--dpo`` adds a Diffusion-DPO section (needs karena[train]): training steps per second for each
loss variant, on ``--dpo-unet tiny`` (CPU smoke size) or ``sd15`` (a randomly initialised UNet of
Stable Diffusion 1.5's shape, 64×64 latents; for a GPU, ``--dpo-device cuda``), plus an on-device
check that equal gaps reduce gap weighting to plain DPO. It does not change the RESULT line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
from scipy.stats import spearmanr

from karena.rating.models.thurstone import ThurstoneK
from karena.reward.capabilities import fit_capabilities
from karena.reward.gaps import pair_gaps, truncated_gap_moments, truncated_gap_moments_naive
from karena.reward.loaders import load_chatbot_arena_counts
from karena.reward.pairs import PairSet

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "chatbotarena_20240814.json"


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def accuracy(n_grid: int, n_mp: int) -> dict[str, Any]:
    """Errors of the closed form against truncnorm (|z| ≤ 40) and against mpmath."""
    z = np.linspace(-40.0, 40.0, n_grid)
    s = np.array([0.05, 1.0, 9.0])
    m = (z[:, None] * s).ravel()
    ss = np.broadcast_to(s, (n_grid, 3)).ravel()
    zz = m / ss
    ours = truncated_gap_moments(m, ss)
    ref = truncated_gap_moments_naive(m, ss)
    std_err = max(
        float(np.max(np.abs(ours.mean - ref.mean) / ss)),
        float(np.max(np.abs(ours.var - ref.var) / ss**2)),
    )
    ok = zz >= -12.0
    rel_mean = float(np.max(np.abs(ours.mean - ref.mean) / ref.mean))
    rel_var_ok = float(np.max(np.abs(ours.var[ok] - ref.var[ok]) / ref.var[ok]))
    rel_var_all = float(np.max(np.abs(ours.var - ref.var) / ref.var))

    zs = np.concatenate([-np.logspace(6, -2, n_mp // 2), np.linspace(0.0, 40.0, n_mp - n_mp // 2)])
    exact_mean, exact_var = [], []
    with mpmath.workdps(60):
        for value in zs:
            x = mpmath.mpf(float(value))
            v = mpmath.npdf(x) / mpmath.ncdf(x)
            exact_mean.append(float(x + v))
            exact_var.append(float(1 - v * (v + x)))
    em, ev = np.array(exact_mean), np.array(exact_var)
    one = np.ones_like(zs)
    o = truncated_gap_moments(zs, one)
    in_range = zs >= -40.0
    t = truncated_gap_moments_naive(zs[in_range], one[in_range])
    curve = {
        "z": zs.tolist(),
        "ours_rel_err": np.maximum(np.abs(o.mean - em) / em, np.abs(o.var - ev) / ev).tolist(),
        "truncnorm_z": zs[in_range].tolist(),
        "truncnorm_rel_err": np.maximum(
            np.abs(t.mean - em[in_range]) / em[in_range],
            np.abs(t.var - ev[in_range]) / ev[in_range],
        ).tolist(),
    }
    return {
        "max_truncnorm_err_standard_units": std_err,
        "max_truncnorm_rel_err_mean": rel_mean,
        "max_truncnorm_rel_err_var_z_ge_-12": rel_var_ok,
        "max_truncnorm_rel_err_var_all": rel_var_all,
        "max_mpmath_rel_err_ours": float(max(curve["ours_rel_err"])),
        "max_mpmath_rel_err_truncnorm": float(max(curve["truncnorm_rel_err"])),
        "curve": curve,
    }


def batch_bt(path: Path) -> np.ndarray:
    """Batch Bradley–Terry ratings (ties as half wins) in the file's model order."""
    from karena.rating.bradley_terry import fit_bradley_terry
    from karena.rating.data import load_chatbot_arena

    counts = load_chatbot_arena(path)
    fit = fit_bradley_terry(counts)
    return np.array([fit.rating(m) for m in counts.models])


def synthetic_pairs(n: int, k: int, rng: np.random.Generator) -> PairSet:
    """Thurstone pairs over ``k`` hidden skills (used only when the arena data is absent)."""
    skill = rng.normal(25.0, 3.0, size=k)
    a = rng.integers(0, k, size=n)
    b = (a + rng.integers(1, k, size=n)) % k
    a_wins = rng.normal(skill[a] - skill[b], 25.0 / 6.0 * np.sqrt(2)) > 0
    tie = rng.random(n) < 0.1
    return PairSet(
        tuple(f"m{i}" for i in range(k)), np.where(a_wins, a, b), np.where(a_wins, b, a), tie
    )


def dpo_section(device: str, unet: str, steps: int) -> dict[str, Any]:
    """Seconds per Diffusion-DPO optimizer step for each variant, and an equal-gap check."""
    import torch
    from diffusers import UNet2DConditionModel

    from karena.reward.dpo import DPOConfig
    from karena.reward.dpo.data import PreferenceBatch
    from karena.reward.dpo.trainer import DiffusionDPOTrainer, tiny_unet

    if unet == "tiny":
        net, latent, cross, batch = tiny_unet(), 8, 8, 4
    else:
        torch.manual_seed(0)
        unet_class: Any = UNet2DConditionModel
        net, latent, cross, batch = unet_class(sample_size=64, cross_attention_dim=768), 64, 768, 4
    g = torch.Generator().manual_seed(0)
    pairs = PreferenceBatch(
        x_w=torch.randn(batch, 4, latent, latent, generator=g),
        x_l=torch.randn(batch, 4, latent, latent, generator=g),
        cond=torch.randn(batch, 77 if unet != "tiny" else 2, cross, generator=g),
        gap=torch.rand(batch, generator=g) + 0.5,
    )
    n_params = sum(p.numel() for p in net.parameters())
    out: dict[str, Any] = {"device": device, "unet": unet, "parameters": n_params, "pairs": batch}
    state = {k: v.clone() for k, v in net.state_dict().items()}
    for variant in ("plain", "fixed_margin", "adaptive_margin", "gap_weighted"):
        net.load_state_dict(state)
        trainer = DiffusionDPOTrainer(net, DPOConfig(variant=variant), device=device)  # type: ignore[arg-type]
        trainer.train_step([pairs])  # warm-up (allocations, kernels)

        def step(tr: DiffusionDPOTrainer = trainer) -> object:
            metrics = tr.train_step([pairs])
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            return metrics

        out[f"{variant}_s_per_step"] = median_time(step, steps)
        out[f"{variant}_last_loss"] = float(trainer.loss_on_batch(pairs).loss.detach())
    equal = PreferenceBatch(pairs.x_w, pairs.x_l, pairs.cond, torch.ones(batch))
    noise = torch.randn(pairs.x_w.shape, generator=g)
    t = torch.randint(0, 1000, (batch,), generator=g)
    losses = {}
    for variant in ("plain", "gap_weighted"):
        cfg = DPOConfig(variant=variant)  # type: ignore[arg-type]
        tr = DiffusionDPOTrainer(net, cfg, reference=trainer.reference, device=device)
        losses[variant] = float(tr.loss_on_batch(equal, noise=noise, timesteps=t).loss.detach())
    out["equal_gap_rel_diff"] = abs(losses["plain"] - losses["gap_weighted"]) / losses["plain"]
    return out


def plot(payload: dict[str, Any], out: Path) -> None:
    """Four panels: throughput, accuracy against z, Spearman per traversal, gap histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8), dpi=110)
    ax = axes[0, 0]
    th = payload["throughput"]
    labels = ["pair_gaps\n(arena pairs)", "moments only", "scipy truncnorm"]
    values = [th["pairs_per_s"], th["moments_pairs_per_s"], th["truncnorm_pairs_per_s"]]
    ax.bar(labels, values, color=["#3a6ea5", "#6a9fd4", "#c0504d"])
    ax.set_yscale("log")
    ax.set_ylabel("pairs / s (median)")
    ax.set_title(f"gap throughput: {th['speedup_vs_truncnorm']:.0f}× truncnorm")

    ax = axes[0, 1]
    curve = payload["accuracy"]["curve"]
    floor = 1e-17
    ax.loglog(
        -np.minimum(curve["z"], -1e-2),
        np.maximum(curve["ours_rel_err"], floor),
        ".",
        label="closed form (ours)",
    )
    tz = np.array(curve["truncnorm_z"])
    neg = tz < 0
    ax.loglog(
        -tz[neg],
        np.maximum(np.array(curve["truncnorm_rel_err"])[neg], floor),
        "x",
        label="scipy truncnorm",
    )
    ax.set_xlabel("−z = −m/s")
    ax.set_ylabel("max relative error vs mpmath (mean, var)")
    ax.set_title("accuracy of E and Var of Δ | Δ > 0")
    ax.legend()

    ax = axes[1, 0]
    sp = payload["spearman"]
    names = list(sp)
    bars = ax.bar(names, [sp[n] for n in names], color="#3a6ea5")
    ax.bar_label(bars, labels=[f"{sp[n]:.4f}" for n in names], padding=2, fontsize=8)
    ax.axhline(0.98, color="k", ls="--", lw=1)
    ax.set_ylim(min(0.8, min(sp.values()) - 0.02) if sp else 0.8, 1.01)
    ax.set_ylabel("Spearman ρ vs batch BT")
    ax.set_title("capabilities vs Bradley–Terry (Chatbot Arena)")
    ax.tick_params(axis="x", labelrotation=25, labelsize=7)

    ax = axes[1, 1]
    counts, edges = payload["gap_histogram"]["counts"], payload["gap_histogram"]["edges"]
    ax.stairs(counts, edges, fill=True, color="#6a9fd4")
    ax.set_xlabel("E[Δ | Δ > 0]")
    ax.set_ylabel("pairs")
    ax.set_title("gaps of the untied arena pairs")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small repeats (< 1 minute)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--dpo", action="store_true", help="also time Diffusion-DPO steps")
    parser.add_argument("--dpo-device", default="cpu", help="torch device for --dpo")
    parser.add_argument("--dpo-unet", choices=("tiny", "sd15"), default="tiny")
    parser.add_argument(
        "--dpo-threads", type=int, default=None, help="torch CPU threads (1 on a shared box)"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    repeats = 3 if quick else 7
    rng = np.random.default_rng(0)

    have_data = args.data.is_file()
    if have_data:
        pairs = load_chatbot_arena_counts(args.data)
    else:
        print(f"note: {args.data} absent: synthetic pairs, no Spearman vs BT")
        pairs = synthetic_pairs(1_670_250, 129, rng)
    n = len(pairs)

    # Capability fit: compile once, then time single passes.
    fit_capabilities(pairs.take(np.arange(1000)), passes=1, rng=np.random.default_rng(0))
    fit_pass_s = median_time(
        lambda: fit_capabilities(pairs, passes=1, rng=np.random.default_rng(1)), 1 if quick else 5
    )
    start = time.perf_counter()
    caps = fit_capabilities(pairs, passes=4, rng=np.random.default_rng(0))
    fit4_s = time.perf_counter() - start

    # Throughput of the per-pair gaps.
    def gaps() -> object:
        return pair_gaps(caps.mu, caps.sigma, pairs.winner, pairs.loser, pairs.tie, caps.beta)

    gap_s = median_time(gaps, repeats)
    m_syn = rng.normal(0.0, 3.0, size=n)
    s_syn = rng.uniform(5.0, 7.0, size=n)
    moments_s = median_time(lambda: truncated_gap_moments(m_syn, s_syn), repeats)
    n_naive = 2_000 if quick else 20_000  # truncnorm manages only ~1e3–1e4 pairs/s
    naive_s = median_time(
        lambda: truncated_gap_moments_naive(m_syn[:n_naive], s_syn[:n_naive]), 3 if quick else 5
    )
    throughput = {
        "pairs": n,
        "pairs_per_s": n / gap_s,
        "moments_pairs_per_s": n / moments_s,
        "truncnorm_pairs": n_naive,
        "truncnorm_pairs_per_s": n_naive / naive_s,
        "speedup_vs_truncnorm": (n / gap_s) / (n_naive / naive_s),
        "repeats": repeats,
    }

    # Agreement with batch Bradley–Terry.
    spearman: dict[str, float] = {}
    if have_data:
        bt = batch_bt(args.data)
        data_caps = fit_capabilities(pairs, traversal="data", passes=1)
        spearman["data order"] = float(spearmanr(data_caps.mu, bt)[0])
        singles = [
            float(
                spearmanr(fit_capabilities(pairs, passes=1, rng=np.random.default_rng(s)).mu, bt)[0]
            )
            for s in range(1 if quick else 5)
        ]
        spearman["1 shuffled pass (min)"] = min(singles)
        spearman["1 shuffled pass (median)"] = statistics.median(singles)
        spearman["4 passes averaged"] = float(spearmanr(caps.mu, bt)[0])
        if not quick:
            c8 = fit_capabilities(pairs, passes=8, rng=np.random.default_rng(0))
            spearman["8 passes averaged"] = float(spearmanr(c8.mu, bt)[0])
            # What the unspecified update parameters do (4 passes each, same seed).
            for label, model in (
                ("4 passes, tau=25/300", ThurstoneK(tau=25.0 / 300.0)),
                (
                    "4 passes, paper pairing, gamma = 1",
                    ThurstoneK(weighting="paper", gamma="paper"),
                ),
                ("4 passes, no draw margin", ThurstoneK(draw_margin=0.0)),
            ):
                fit = fit_capabilities(pairs, model, passes=4, rng=np.random.default_rng(0))
                spearman[label] = float(spearmanr(fit.mu, bt)[0])

    acc = accuracy(801 if quick else 8001, 60 if quick else 300)
    untied = gaps()
    assert hasattr(untied, "mean")
    gap_values = untied.mean[~pairs.tie]  # type: ignore[attr-defined]
    hist_counts, hist_edges = np.histogram(gap_values, bins=80)

    if args.dpo and args.dpo_threads is not None:
        import torch

        torch.set_num_threads(args.dpo_threads)
    dpo = dpo_section(args.dpo_device, args.dpo_unet, 3 if quick else 10) if args.dpo else None

    payload: dict[str, Any] = {
        "dpo": dpo,
        "mode": "quick" if quick else "full",
        "data": str(args.data) if have_data else "synthetic",
        "throughput": throughput,
        "fit": {
            "pairs": n,
            "seconds_per_pass_median": fit_pass_s,
            "pair_updates_per_s": n / fit_pass_s,
            "seconds_4_passes": fit4_s,
        },
        "spearman": spearman,
        "accuracy": acc,
        "gap_histogram": {"counts": hist_counts.tolist(), "edges": hist_edges.tolist()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rewards.json").write_text(json.dumps(payload, indent=2) + "\n")
    plot(payload, RESULTS / "rewards.png")

    rows = [
        ("gap computation, pair_gaps on arena pairs", f"{throughput['pairs_per_s']:,.0f} pairs/s"),
        ("moments only (synthetic m, s)", f"{throughput['moments_pairs_per_s']:,.0f} pairs/s"),
        ("baseline scipy.stats.truncnorm", f"{throughput['truncnorm_pairs_per_s']:,.0f} pairs/s"),
        ("speedup vs truncnorm", f"{throughput['speedup_vs_truncnorm']:,.0f}×"),
        ("capability fit, one pass", f"{fit_pass_s:.2f} s ({n / fit_pass_s:,.0f} pairs/s)"),
        ("capability fit, 4 passes", f"{fit4_s:.2f} s"),
    ]
    rows += [(f"Spearman vs BT, {k}", f"{v:.4f}") for k, v in spearman.items()]
    rows += [
        (
            "max err vs truncnorm (|z|≤40, /s and /s²)",
            f"{acc['max_truncnorm_err_standard_units']:.2e}",
        ),
        ("max rel err vs truncnorm, mean", f"{acc['max_truncnorm_rel_err_mean']:.2e}"),
        (
            "max rel err vs truncnorm, var (z≥−12)",
            f"{acc['max_truncnorm_rel_err_var_z_ge_-12']:.2e}",
        ),
        ("max rel err vs truncnorm, var (all z)", f"{acc['max_truncnorm_rel_err_var_all']:.2e}"),
        ("max rel err vs mpmath, ours (z ≥ −1e6)", f"{acc['max_mpmath_rel_err_ours']:.2e}"),
        ("max rel err vs mpmath, truncnorm (|z|≤40)", f"{acc['max_mpmath_rel_err_truncnorm']:.2e}"),
    ]
    if dpo is not None:
        rows.append((f"DPO UNet ({dpo['unet']}, {dpo['parameters']:,} params)", dpo["device"]))
        for variant in ("plain", "fixed_margin", "adaptive_margin", "gap_weighted"):
            sec = dpo[f"{variant}_s_per_step"]
            rows.append((f"DPO step, {variant}", f"{sec:.3f} s ({dpo['pairs'] / sec:.1f} pairs/s)"))
        rows.append(
            ("DPO equal gaps: |weighted − plain|/plain", f"{dpo['equal_gap_rel_diff']:.1e}")
        )
    width = max(len(r[0]) for r in rows)
    print(f"ArenaPO rewards benchmark ({payload['mode']}, {n:,} pairs)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print(f"\nwrote {RESULTS / 'rewards.json'} and {RESULTS / 'rewards.png'}")
    headline = spearman.get("4 passes averaged", float("nan"))
    print(
        f"RESULT pairs_per_s={throughput['pairs_per_s']:.0f} spearman_vs_bt={headline:.4f} "
        f"max_truncnorm_err={acc['max_truncnorm_err_standard_units']:.2e}"
    )


if __name__ == "__main__":
    main()
