"""Diffusion-DPO with ArenaPO gaps on a tiny random UNet (CPU); skipped without karena[train]."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from karena.errors import ConfigError, InvalidInput  # noqa: E402
from karena.reward.dpo import DPOConfig  # noqa: E402
from karena.reward.dpo.data import PreferenceBatch  # noqa: E402
from karena.reward.dpo.losses import diffusion_dpo_loss  # noqa: E402
from karena.reward.dpo.trainer import DiffusionDPOTrainer, tiny_unet  # noqa: E402

VARIANTS = ("plain", "fixed_margin", "adaptive_margin", "gap_weighted")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():  # type: ignore[no-untyped-def]
    """Tiny models run fastest single-threaded; on a shared 2-core box threads only thrash."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x)) if x < 30 else x


def _hand_loss(d_w, d_l, gap, variant, beta, gamma, margin) -> float:  # type: ignore[no-untyped-def]
    """−log σ(z) = softplus(−z), written out per pair in plain Python."""
    total = 0.0
    for dw, dl, g in zip(d_w, d_l, gap, strict=True):
        z = -beta * (dw - dl)
        if variant == "fixed_margin":
            z -= margin
        if variant == "adaptive_margin":
            z -= gamma * g
        term = _softplus(-z)
        total += g * term if variant == "gap_weighted" else term
    return total / len(d_w)


@pytest.mark.parametrize("variant", VARIANTS)
def test_loss_matches_hand_computation_on_error_tensors(variant: str) -> None:
    mw = torch.tensor([0.30, 0.52, 0.11], dtype=torch.float64)
    ml = torch.tensor([0.41, 0.50, 0.13], dtype=torch.float64)
    rw = torch.tensor([0.33, 0.49, 0.12], dtype=torch.float64)
    rl = torch.tensor([0.40, 0.51, 0.10], dtype=torch.float64)
    gap = torch.tensor([0.4, 1.9, 0.7], dtype=torch.float64)
    out = diffusion_dpo_loss(
        mw, ml, rw, rl, variant=variant, beta=50.0, gap=gap, gamma=0.8, margin=0.6
    )  # type: ignore[arg-type]
    d_w = (mw - rw).tolist()
    d_l = (ml - rl).tolist()
    expected = _hand_loss(d_w, d_l, gap.tolist(), variant, 50.0, 0.8, 0.6)
    assert float(out.loss) == pytest.approx(expected, rel=1e-12)


def _batch(seed: int, n: int = 3, gap: list[float] | None = None) -> PreferenceBatch:
    g = torch.Generator().manual_seed(seed)
    return PreferenceBatch(
        x_w=torch.randn(n, 4, 8, 8, generator=g),
        x_l=torch.randn(n, 4, 8, 8, generator=g),
        cond=torch.randn(n, 2, 8, generator=g),
        gap=torch.tensor(gap if gap is not None else [0.5, 1.0, 1.5][:n], dtype=torch.float32),
    )


def _trainer(variant: str, **kw: float) -> DiffusionDPOTrainer:
    config = DPOConfig(variant=variant, beta=kw.pop("beta", 200.0), learning_rate=1e-3, **kw)  # type: ignore[arg-type]
    return DiffusionDPOTrainer(tiny_unet(seed=1), config)


def test_full_pipeline_loss_matches_hand_computation_after_the_model_moved() -> None:
    trainer = _trainer("adaptive_margin", gamma=0.7)
    batch = _batch(0)
    trainer.train_step([_batch(9)])  # move the model away from the reference
    noise = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(5))
    t = torch.tensor([10, 500, 990])
    out = trainer.loss_on_batch(batch, noise=noise, timesteps=t)

    # By hand: x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε from the DDPM schedule, errors with numpy.
    abar = trainer.scheduler.alphas_cumprod[t].double().numpy()[:, None, None, None]
    errors = {}
    for name, net in (("model", trainer.model), ("ref", trainer.reference)):
        for side, x0 in (("w", batch.x_w), ("l", batch.x_l)):
            x_t = np.sqrt(abar) * x0.double().numpy() + np.sqrt(1 - abar) * noise.double().numpy()
            with torch.no_grad():
                pred = net(
                    torch.from_numpy(x_t).float(), t, encoder_hidden_states=batch.cond
                ).sample
            errors[name, side] = ((pred.double().numpy() - noise.double().numpy()) ** 2).mean(
                axis=(1, 2, 3)
            )
    d_w = errors["model", "w"] - errors["ref", "w"]
    d_l = errors["model", "l"] - errors["ref", "l"]
    assert np.abs(d_w - d_l).max() > 0  # the model really differs from the reference
    expected = _hand_loss(d_w, d_l, batch.gap.tolist(), "adaptive_margin", 200.0, 0.7, 1.0)
    assert float(out.loss.detach()) == pytest.approx(expected, rel=1e-4)


def test_at_initialisation_the_model_equals_the_reference() -> None:
    trainer = _trainer("fixed_margin", margin=0.5)
    out = trainer.loss_on_batch(_batch(1))
    assert float(out.loss.detach()) == pytest.approx(math.log1p(math.exp(0.5)), rel=1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
def test_one_optimizer_step_lowers_the_loss_on_that_batch(variant: str) -> None:
    trainer = _trainer(variant)
    batch = _batch(2)
    trainer.generator.manual_seed(77)
    before = float(trainer.loss_on_batch(batch).loss.detach())
    trainer.generator.manual_seed(77)  # the step sees the same noise and timesteps
    trainer.train_step([batch])
    trainer.generator.manual_seed(77)
    after = float(trainer.loss_on_batch(batch).loss.detach())
    assert after < before


def test_equal_gaps_reduce_the_variants_to_their_baselines() -> None:
    equal = _batch(3, gap=[1.0, 1.0, 1.0])
    noise = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(8))
    t = torch.tensor([100, 200, 300])
    base = _trainer("plain")
    base.train_step([_batch(4)])  # a non-trivial model
    state = base.model.state_dict()

    def loss(variant: str, batch: PreferenceBatch = equal, **kw: float) -> float:
        tr = _trainer(variant, **kw)
        tr.reference.load_state_dict(base.reference.state_dict())
        tr.model.load_state_dict(state)
        return float(tr.loss_on_batch(batch, noise=noise, timesteps=t).loss.detach())

    plain = loss("plain")
    assert loss("gap_weighted") == pytest.approx(plain, rel=1e-6)
    assert loss("adaptive_margin", gamma=0.0) == pytest.approx(plain, rel=1e-6)
    assert loss("adaptive_margin", gamma=0.6) == pytest.approx(
        loss("fixed_margin", margin=0.6), rel=1e-6
    )
    unequal = _batch(3, gap=[0.2, 1.0, 1.8])
    assert loss("gap_weighted", unequal) != pytest.approx(plain, rel=1e-6)


def test_loss_rejects_missing_gaps_and_bad_config() -> None:
    e = torch.zeros(2)
    with pytest.raises(InvalidInput, match="gap"):
        diffusion_dpo_loss(e, e, e, e, variant="gap_weighted", beta=1.0)
    with pytest.raises(ConfigError, match="variant"):
        DPOConfig(variant="dpo++")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="grad_accum"):
        DPOConfig(grad_accum=0)


def _write_dataset(tmp: Path, n: int = 12) -> Path:
    """A synthetic preference set: rewards.parquet from `karena rewards` plus .npy latents."""
    import json

    from typer.testing import CliRunner

    from karena.cli.main import build_app

    rng = np.random.default_rng(0)
    latents = tmp / "latents"
    latents.mkdir()
    rows = []
    for i in range(n):
        for side in (0, 1):
            np.save(latents / f"img{i}_{side}.npy", rng.normal(size=(4, 8, 8)).astype(np.float32))
        m0, m1 = rng.choice(["good", "mid", "bad"], size=2, replace=False)
        refs = {"image_0_uid": f"img{i}_0", "image_1_uid": f"img{i}_1"}
        labels = {"label_0": 1.0, "label_1": 0.0, "model_0": str(m0), "model_1": str(m1)}
        rows.append({"caption": f"c{i}", **refs, **labels})
    src = tmp / "pap.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = CliRunner().invoke(build_app(), ["rewards", str(src), "-o", str(tmp / "rw")])
    assert result.exit_code == 0, result.output
    return tmp / "rw" / "rewards.parquet"


def test_resume_from_checkpoint_reproduces_an_uninterrupted_run(tmp_path: Path) -> None:
    from karena.reward.dpo.data import PreferenceDataset

    rewards = _write_dataset(tmp_path)
    data = PreferenceDataset(rewards, tmp_path / "latents", null_embedding_shape=(1, 8))
    cfg = {"batch_size": 2, "grad_accum": 2, "learning_rate": 1e-3, "beta": 100.0}
    full = DiffusionDPOTrainer(tiny_unet(seed=3), DPOConfig(max_steps=3, **cfg))  # type: ignore[arg-type]
    full.fit(data)
    first = DiffusionDPOTrainer(tiny_unet(seed=3), DPOConfig(max_steps=2, **cfg))  # type: ignore[arg-type]
    first.fit(data, checkpoint_dir=tmp_path / "ck")
    resumed = DiffusionDPOTrainer(tiny_unet(seed=3), DPOConfig(max_steps=3, **cfg))  # type: ignore[arg-type]
    resumed.load_checkpoint(tmp_path / "ck")
    assert resumed.step == 2
    resumed.fit(data)
    for a, b in zip(full.model.parameters(), resumed.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_cli_train_dpo_tiny_smoke_run_and_resume(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from karena.cli.main import build_app

    rewards = _write_dataset(tmp_path)
    args = ["train-dpo", str(rewards), "--root", str(tmp_path / "latents"), "--tiny"]
    args += ["--out", str(tmp_path / "run"), "--batch-size", "2", "--checkpoint-every", "1"]
    result = CliRunner().invoke(build_app(), [*args, "--steps", "2"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-00000002.pt").is_file()
    result = CliRunner().invoke(build_app(), [*args, "--steps", "3", "--resume"])
    assert result.exit_code == 0, result.output
    assert '"step": 3' in (tmp_path / "run" / "checkpoints" / "latest.json").read_text()
    missing = CliRunner().invoke(build_app(), [*args[:3], str(tmp_path), *args[4:], "--steps", "1"])
    assert isinstance(missing.exception, InvalidInput)
    assert "missing" in missing.exception.message


def test_dataset_reads_pixels_and_text_embeddings(tmp_path: Path) -> None:
    from PIL import Image

    from karena.reward.dpo.data import PreferenceDataset
    from karena.reward.export import RewardTable

    for name, colour in (("w.png", (255, 0, 0)), ("l.png", (0, 0, 255))):
        Image.new("RGB", (20, 12), colour).save(tmp_path / name)
    obj = np.array(["w.png", "l.png"], dtype=object)
    table = RewardTable(
        {
            "pair": np.arange(2),
            "tie": np.array([False, True]),
            "gap_norm": np.array([1.0, 0.0]),
            "image_w": obj,
            "image_l": obj[::-1].copy(),
            "caption": np.array(["a red square", "tied"], dtype=object),
        }
    )
    emb = tmp_path / "emb.npz"
    np.savez(emb, captions=np.array(["a red square"]), embeddings=np.full((1, 3, 8), 0.5))
    data = PreferenceDataset(table, tmp_path, kind="pixels", resolution=16, text_embeddings=emb)
    assert len(data) == 1  # the tie is skipped
    batch = data.batch(np.array([0]))
    assert batch.x_w.shape == (1, 3, 16, 16)
    assert float(batch.x_w[0, 0].min()) == pytest.approx(1.0)  # red channel of the winner
    assert float(batch.x_l[0, 0].max()) == pytest.approx(-1.0)  # no red in the loser
    assert batch.cond.shape == (1, 3, 8) and float(batch.cond.mean()) == pytest.approx(0.5)
    np.savez(emb, captions=np.array(["something else"]), embeddings=np.zeros((1, 3, 8)))
    with pytest.raises(InvalidInput, match="no text embedding"):
        PreferenceDataset(table, tmp_path, kind="pixels", text_embeddings=emb)
    with pytest.raises(InvalidInput, match="missing"):
        PreferenceDataset(table, tmp_path / "elsewhere", kind="pixels")


def test_missing_files_message_lists_each_path_once(tmp_path: Path) -> None:
    """Finding 14.10: one image in three pairs was named three times in the missing-files line."""
    from karena.reward.dpo.data import PreferenceDataset
    from karena.reward.export import RewardTable

    table = RewardTable(
        {
            "pair": np.arange(3),
            "tie": np.zeros(3, dtype=bool),
            "gap_norm": np.ones(3),
            "image_w": np.array(["same.png"] * 3, dtype=object),
            "image_l": np.array(["a.png", "b.png", "c.png"], dtype=object),
        }
    )
    with pytest.raises(InvalidInput) as caught:
        PreferenceDataset(table, tmp_path, kind="pixels")
    message = caught.value.message
    assert message.startswith("4 input files are missing")
    assert message.count("same.png") == 1
