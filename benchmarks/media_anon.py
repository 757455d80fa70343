"""What a per-battle copy of each image costs, as JPEG and as PNG (issue 13, findings 1 and 2).

A battle slot serves ``karena.media.anonymise.battle_copy``: the stored PNG decoded, moved by
keyed ±1 noise and written on the canvas either as a JPEG at one fixed quality padded to one
length (``KARENA_MEDIA_SERVED_FORMAT=jpeg``, the default) or as stored-block PNG (``png``).
This measures, on the demo's six renderers (every output as the media store keeps it, 512² PNG),
on photograph-like images (gradients plus sensor noise of σ 4–25) and on pure noise (the worst
case for JPEG):

- **baseline**: serving the stored bytes as they are (reading the file), measured in the same run;
- **copy**: ms per image for each format (median over repeats), and KB per battle of K = 4;
- **size survey**: the unpadded JPEG's length at ``JPEG_QUALITY`` over many images (demo
  renderers and photo-like; pure noise apart), its 99th and 99.9th percentiles against the
  target, and ``fallback_rate``: the share of those images over the target, which are smoothed
  until they fit (same quality, same length: docs/reliability.md, R-ANON-3);
- **cache hit**: a reload of the same slot (``BattleMediaCache.get``).

    python benchmarks/media_anon.py --quick     # about half a minute
    python benchmarks/media_anon.py             # 15 repeats, ~1 000 images in the survey

It prints a table, writes benchmarks/results/media_anon.json and media_anon.png, and its last
line is ``RESULT served_kb_jpeg=… served_kb_png=… ms_per_image_jpeg=… ms_per_image_png=…
kb_per_battle_jpeg=… kb_per_battle_png=… fallback_rate=… jpeg_p999_kb=… target_kb=…
baseline_ms_per_image=… cache_hit_us=… served_lengths_jpeg=… served_lengths_png=…``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "src"))

from karena.generators.demo import DEMO_RENDERERS, demo_prompt_texts, render_demo  # noqa: E402
from karena.media import MediaStore  # noqa: E402
from karena.media.anonymise import (  # noqa: E402
    JPEG_QUALITY,
    BattleMediaCache,
    battle_copy,
    jpeg_target,
    media_key,
)
from karena.media.reencode import cover_canvas  # noqa: E402

CANVAS = 512
K = 4
BITS_PER_PIXEL = 3.75  # the default of KARENA_MEDIA_JPEG_BITS_PER_PIXEL
FORMATS = ("jpeg", "png")
SIGMAS = (4, 8, 12, 16, 20, 25)


def _photo_pixels(seed: int, sigma: float) -> np.ndarray:
    """A photograph-like image: smooth gradients plus sensor noise (compresses poorly)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:CANVAS, 0:CANVAS]
    phase = rng.uniform(0, 255, 3)
    base = np.stack([(x + y) / 4 + phase[0], (x * 0.3 + phase[1]) % 255, 255 - y / 2], axis=-1)
    return np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8)


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def _raw_jpeg_length(pixels: np.ndarray, rng: np.random.Generator) -> int:
    """The unpadded JPEG's length, encoded as ``battle_copy`` does (±1 noise, fixed quality)."""
    from PIL import Image

    moved = np.clip(pixels.astype(np.int16) + rng.integers(-1, 2, pixels.shape), 0, 255)
    buf = io.BytesIO()
    Image.fromarray(moved.astype(np.uint8), "RGB").save(
        buf, format="JPEG", quality=JPEG_QUALITY, subsampling="4:2:0", optimize=False
    )
    return len(buf.getvalue())


def _median_ms(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def survey(prompts: int, photos: int) -> dict[str, object]:
    """Unpadded JPEG lengths of many canvas images against the target (no timing)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    lengths: dict[str, list[int]] = {}
    for r in DEMO_RENDERERS:
        lengths[r.name] = []
        for text in demo_prompt_texts(prompts):
            with Image.open(io.BytesIO(render_demo(r.name, text))) as img:
                canvas = cover_canvas(img.convert("RGB"), CANVAS)
            lengths[r.name].append(_raw_jpeg_length(np.asarray(canvas), rng))
    lengths["photo-like"] = [
        _raw_jpeg_length(_photo_pixels(1000 + i, SIGMAS[i % len(SIGMAS)]), rng)
        for i in range(photos)
    ]
    lengths["pure noise"] = [
        _raw_jpeg_length(rng.integers(0, 256, (CANVAS, CANVAS, 3), dtype=np.uint8), rng)
        for _ in range(3)
    ]
    target = jpeg_target(CANVAS, CANVAS, BITS_PER_PIXEL)
    natural = [n for name, ns in lengths.items() if name != "pure noise" for n in ns]
    return {
        "target_bytes": target,
        "jpeg_quality": JPEG_QUALITY,
        "images": len(natural),
        "p50_kb": float(np.percentile(natural, 50)) / 1000,
        "p99_kb": float(np.percentile(natural, 99)) / 1000,
        "p999_kb": float(np.percentile(natural, 99.9)) / 1000,
        "max_kb": max(natural) / 1000,
        "fallback_rate": sum(n > target - 4 and n != target for n in natural) / len(natural),
        "pure_noise_kb": max(lengths["pure noise"]) / 1000,
        "max_kb_by_source": {name: max(ns) / 1000 for name, ns in lengths.items()},
    }


def measure(repeats: int, prompts: int) -> dict[str, object]:
    """Timings and served lengths per source and format, as one JSON-able dict."""
    key = media_key(b"benchmark-secret")
    texts = demo_prompt_texts(prompts)
    with tempfile.TemporaryDirectory(prefix="karena-media-anon-") as tmp:
        media = MediaStore(Path(tmp), max_bytes=50_000_000, image_size=CANVAS)
        sources: dict[str, list[Path]] = {
            r.name: [media.put(render_demo(r.name, t)).path for t in texts] for r in DEMO_RENDERERS
        }
        sources["photo-like"] = [media.put(_png(_photo_pixels(i, 12))).path for i in range(prompts)]
        sources["pure noise"] = [
            media.put(
                _png(np.random.default_rng(i).integers(0, 256, (CANVAS, CANVAS, 3), "u1"))
            ).path
            for i in range(prompts)
        ]
        rows = []
        served_lengths: dict[str, set[int]] = {fmt: set() for fmt in FORMATS}
        smoothed: dict[str, int] = {}
        for name, paths in sources.items():
            stored = [p.read_bytes() for p in paths]
            read_all = lambda ps=paths: [p.read_bytes() for p in ps]  # noqa: E731
            row: dict[str, object] = {
                "source": name,
                "stored_kb_median": statistics.median(len(d) for d in stored) / 1000,
                "baseline_ms_per_image": _median_ms(read_all, repeats) / len(paths),
            }
            for fmt in FORMATS:
                counter = iter(range(10**9))

                def copy_all(stored=stored, counter=counter, fmt=fmt, name=name) -> None:
                    n = next(counter)
                    for i, data in enumerate(stored):
                        out = battle_copy(
                            data, key=key, token=f"t{n}", slot=i, canvas=CANVAS, fmt=fmt
                        )
                        served_lengths[fmt].add(len(out.data))
                        if fmt == "jpeg" and n == 0:
                            smoothed[name] = smoothed.get(name, 0) + (out.smoothing != 0)

                row[f"ms_per_image_{fmt}"] = _median_ms(copy_all, repeats) / len(stored)
            row["smoothed"] = smoothed.get(name, 0) / len(stored)
            rows.append(row)
        cache = BattleMediaCache(32 * 1024 * 1024)
        sample = battle_copy(stored[0], key=key, token="cached", slot=0, canvas=CANVAS).data
        cache.put("cached", 0, sample)
        hits = 20_000
        began = time.perf_counter()
        for _ in range(hits):
            cache.get("cached", 0)
        cache_hit_us = (time.perf_counter() - began) / hits * 1e6
    natural = [r for r in rows if r["source"] != "pure noise"]
    result: dict[str, object] = {
        "canvas": CANVAS,
        "repeats": repeats,
        "images_per_source": prompts,
        "rows": rows,
        "baseline_ms_per_image": statistics.median(r["baseline_ms_per_image"] for r in natural),  # type: ignore[misc]
        "cache_hit_us": cache_hit_us,
        "stored_kb_min": min(r["stored_kb_median"] for r in natural),  # type: ignore[type-var]
        "stored_kb_max": max(r["stored_kb_median"] for r in natural),  # type: ignore[type-var]
    }
    for fmt in FORMATS:
        per_image = statistics.median(r[f"ms_per_image_{fmt}"] for r in natural)  # type: ignore[misc]
        lengths = sorted(served_lengths[fmt])
        result[f"ms_per_image_{fmt}"] = per_image
        result[f"ms_per_battle_k4_{fmt}"] = per_image * K
        result[f"served_lengths_{fmt}"] = lengths
        result[f"served_kb_{fmt}"] = max(lengths) / 1000
        result[f"kb_per_battle_{fmt}"] = max(lengths) * K / 1000
    return result


def plot(result: dict[str, object], path: Path) -> None:
    """Per source: stored vs served size per format, and each format's cost vs the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    assert isinstance(rows, list)
    names = [r["source"] for r in rows]
    x = np.arange(len(rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    left.bar(x - 0.27, [r["stored_kb_median"] for r in rows], 0.27, label="stored (median)")
    for offset, fmt in ((0.0, "jpeg"), (0.27, "png")):
        kb = result[f"served_kb_{fmt}"]
        left.bar(x + offset, [kb] * len(rows), 0.27, label=f"served {fmt}, every slot")
    left.set_xticks(x, names, rotation=30, ha="right")
    left.set_ylabel("KB per image")
    left.set_title("Size: stored tells the model, served does not")
    left.legend(fontsize=8)
    right.bar(x - 0.27, [r["baseline_ms_per_image"] for r in rows], 0.27, label="stored bytes")
    right.bar(x, [r["ms_per_image_jpeg"] for r in rows], 0.27, label="copy, jpeg")
    right.bar(x + 0.27, [r["ms_per_image_png"] for r in rows], 0.27, label="copy, png")
    right.set_xticks(x, names, rotation=30, ha="right")
    right.set_ylabel("ms per image (median)")
    right.set_title("Cost per image served (pure noise: smoothed to fit)")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 repeats, 2 images per source, ~100 surveyed"
    )
    args = parser.parse_args()
    repeats, prompts, survey_prompts, photos = (3, 2, 8, 48) if args.quick else (15, 6, 72, 600)
    result = measure(repeats, prompts)
    result["survey"] = survey(survey_prompts, photos)
    print(
        f"{'source':<18}{'stored KB':>11}{'baseline ms':>13}{'jpeg ms':>10}{'png ms':>9}"
        f"{'smoothed':>10}"
    )
    for r in result["rows"]:  # type: ignore[attr-defined]
        print(
            f"{r['source']:<18}{r['stored_kb_median']:>11.1f}{r['baseline_ms_per_image']:>13.3f}"
            f"{r['ms_per_image_jpeg']:>10.2f}{r['ms_per_image_png']:>9.2f}{r['smoothed']:>10.2f}"
        )
    s = result["survey"]
    assert isinstance(s, dict)
    for fmt in FORMATS:
        print(
            f"{fmt}: served lengths {result[f'served_lengths_{fmt}']} bytes, "
            f"{result[f'kb_per_battle_{fmt}']:.0f} KB a battle of {K}"
        )
    print(
        f"unpadded JPEG at quality {s['jpeg_quality']} over {s['images']} images: "
        f"p50 {s['p50_kb']:.1f} KB, p99 {s['p99_kb']:.1f}, p99.9 {s['p999_kb']:.1f}, "
        f"max {s['max_kb']:.1f} (pure noise {s['pure_noise_kb']:.1f}); "
        f"target {s['target_bytes'] / 1000:.1f} KB; over it (smoothed): {s['fallback_rate']:.4f}"
    )
    print(f"cache hit: {result['cache_hit_us']:.2f} µs")
    RESULTS.mkdir(parents=True, exist_ok=True)
    result["mode"] = "quick" if args.quick else "full"
    (RESULTS / "media_anon.json").write_text(json.dumps(result, indent=2))
    plot(result, RESULTS / "media_anon.png")
    print(f"wrote {RESULTS / 'media_anon.json'} and {RESULTS / 'media_anon.png'}")
    summary = {
        "served_kb_jpeg": f"{result['served_kb_jpeg']:.1f}",
        "served_kb_png": f"{result['served_kb_png']:.1f}",
        "ms_per_image_jpeg": f"{result['ms_per_image_jpeg']:.1f}",
        "ms_per_image_png": f"{result['ms_per_image_png']:.1f}",
        "kb_per_battle_jpeg": f"{result['kb_per_battle_jpeg']:.0f}",
        "kb_per_battle_png": f"{result['kb_per_battle_png']:.0f}",
        "fallback_rate": f"{s['fallback_rate']:.4f}",
        "jpeg_p999_kb": f"{s['p999_kb']:.1f}",
        "target_kb": f"{s['target_bytes'] / 1000:.1f}",
        "baseline_ms_per_image": f"{result['baseline_ms_per_image']:.3f}",
        "cache_hit_us": f"{result['cache_hit_us']:.2f}",
        "served_lengths_jpeg": len(result["served_lengths_jpeg"]),  # type: ignore[arg-type]
        "served_lengths_png": len(result["served_lengths_png"]),  # type: ignore[arg-type]
    }
    print("RESULT " + " ".join(f"{k}={v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
