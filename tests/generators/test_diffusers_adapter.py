"""The local diffusers adapter on a tiny randomly initialised Stable Diffusion pipeline.

The pipeline is built here (a 2-layer text encoder, a one-block UNet, a one-block VAE and a
tokenizer over a hand-written vocabulary), saved with ``save_pretrained`` and loaded back by
the adapter from that folder: no download, a few seconds on a CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from karena.errors import ConfigError
from karena.generators.registry import build_generator


def _tokenizer(folder: Path) -> object:
    from transformers import CLIPTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in letters:
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(
        str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77
    )


def _tiny_pipeline(folder: Path) -> Path:
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    tok_dir = folder / "tok"
    tok_dir.mkdir(parents=True)
    tokenizer = _tokenizer(tok_dir)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=64, hidden_size=16, intermediate_size=32, num_attention_heads=2,
            num_hidden_layers=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
            pad_token_id=1, projection_dim=16,
        )
    )  # fmt: skip
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(16, 32), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
        attention_head_dim=2, norm_num_groups=8,
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=8,
        sample_size=16,
    )  # fmt: skip
    pipe = StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
        scheduler=DDIMScheduler(clip_sample=False), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )  # fmt: skip
    out = folder / "tiny-sd"
    pipe.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_pipeline(tmp_path_factory.mktemp("diffusers"))


def test_diffusers_adapter_loads_a_saved_pipeline_and_draws_a_png(pipeline_dir: Path) -> None:
    from PIL import Image

    gen = build_generator(
        {"kind": "diffusers", "model": str(pipeline_dir), "steps": 2, "width": 16, "height": 16},
        timeout=60,
    )
    first = gen.generate("a red cube")
    again = gen.generate("a red cube")
    other = gen.generate("a blue cone")
    assert first.data[:8] == b"\x89PNG\r\n\x1a\n"
    import io

    assert Image.open(io.BytesIO(first.data)).size == (16, 16)
    assert first.data == again.data  # the seed comes from the prompt
    assert other.data != first.data
    assert first.metadata["generator"] == "diffusers"


def test_a_missing_pipeline_is_a_clear_config_error(tmp_path: Path) -> None:
    gen = build_generator({"kind": "diffusers", "model": str(tmp_path / "nope")}, timeout=60)
    with pytest.raises(ConfigError, match="cannot load the diffusers pipeline"):
        gen.generate("x")
