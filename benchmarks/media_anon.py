"""What a per-battle copy of each image costs (issue 13, findings 1 and 2).

A battle slot serves ``karena.media.anonymise.battle_image``: the stored PNG decoded, moved by
keyed ±1 noise, written as stored-block PNG on the canvas. This measures, on the demo's six
renderers (every output as the media store keeps it, 512² PNG) and on photograph-like noise:

- **baseline**: serving the stored bytes as they are (reading the file), measured in the same run;
- **copy**: ms per image for ``battle_image``, and per battle of K = 4;
- **cache hit**: a reload of the same slot (``BattleMediaCache.get``);
- **bytes**: stored size against served size (every served image has one length).

    python benchmarks/media_anon.py --quick     # a few seconds
    python benchmarks/media_anon.py             # 15 repeats

It prints a table, writes benchmarks/results/media_anon.json and media_anon.png, and its last
line is ``RESULT ms_per_image=… ms_per_battle_k4=… baseline_ms_per_image=… cache_hit_us=…
served_kb=… stored_kb_min=… stored_kb_max=… served_lengths=…``.
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
from karena.media.anonymise import BattleMediaCache, battle_image, media_key  # noqa: E402

CANVAS = 512
K = 4


def _photo(seed: int) -> bytes:
    """A photograph-like image: smooth gradients plus sensor noise (compresses poorly)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:CANVAS, 0:CANVAS]
    base = np.stack([(x + y) / 4, (x * 0.3) % 255, 255 - y / 2], axis=-1)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def _median_ms(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def measure(repeats: int, prompts: int) -> dict[str, object]:
    """Every measurement, as one JSON-able dict."""
    key = media_key(b"benchmark-secret")
    texts = demo_prompt_texts(prompts)
    with tempfile.TemporaryDirectory(prefix="karena-media-anon-") as tmp:
        media = MediaStore(Path(tmp), max_bytes=50_000_000, image_size=CANVAS)
        sources: dict[str, list[Path]] = {
            r.name: [media.put(render_demo(r.name, t)).path for t in texts] for r in DEMO_RENDERERS
        }
        sources["photo-like"] = [media.put(_photo(i)).path for i in range(prompts)]
        rows = []
        served_lengths: set[int] = set()
        for name, paths in sources.items():
            stored = [p.read_bytes() for p in paths]
            read_all = lambda ps=paths: [p.read_bytes() for p in ps]  # noqa: E731
            baseline = _median_ms(read_all, repeats) / len(paths)
            counter = iter(range(10**9))

            def copy_all(stored: list[bytes] = stored, counter=counter) -> None:
                n = next(counter)
                for i, data in enumerate(stored):
                    out = battle_image(data, key=key, token=f"t{n}", slot=i, canvas=CANVAS)
                    served_lengths.add(len(out))

            per_image = _median_ms(copy_all, repeats) / len(stored)
            rows.append(
                {
                    "source": name,
                    "stored_kb_median": statistics.median(len(d) for d in stored) / 1000,
                    "baseline_ms_per_image": baseline,
                    "copy_ms_per_image": per_image,
                }
            )
        cache = BattleMediaCache(32 * 1024 * 1024)
        sample = battle_image(stored[0], key=key, token="cached", slot=0, canvas=CANVAS)
        cache.put("cached", 0, sample)
        hits = 20_000
        began = time.perf_counter()
        for _ in range(hits):
            cache.get("cached", 0)
        cache_hit_us = (time.perf_counter() - began) / hits * 1e6
    copy_ms = statistics.median(r["copy_ms_per_image"] for r in rows)  # type: ignore[misc]
    return {
        "canvas": CANVAS,
        "repeats": repeats,
        "images_per_source": prompts,
        "rows": rows,
        "ms_per_image": copy_ms,
        "ms_per_battle_k4": copy_ms * K,
        "baseline_ms_per_image": statistics.median(r["baseline_ms_per_image"] for r in rows),  # type: ignore[misc]
        "cache_hit_us": cache_hit_us,
        "served_lengths": sorted(served_lengths),
        "stored_kb_min": min(r["stored_kb_median"] for r in rows),  # type: ignore[type-var]
        "stored_kb_max": max(r["stored_kb_median"] for r in rows),  # type: ignore[type-var]
    }


def plot(result: dict[str, object], path: Path) -> None:
    """Per source: stored size vs served size, and the copy's cost vs the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    assert isinstance(rows, list)
    names = [r["source"] for r in rows]
    x = np.arange(len(rows))
    served_kb = max(result["served_lengths"]) / 1000  # type: ignore[arg-type]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    left.bar(x - 0.2, [r["stored_kb_median"] for r in rows], 0.4, label="stored (median)")
    left.bar(x + 0.2, [served_kb] * len(rows), 0.4, label="served, every slot")
    left.set_xticks(x, names, rotation=30, ha="right")
    left.set_ylabel("KB per image")
    left.set_title("Size: stored tells the model, served does not")
    left.legend()
    right.bar(x - 0.2, [r["baseline_ms_per_image"] for r in rows], 0.4, label="stored bytes")
    right.bar(x + 0.2, [r["copy_ms_per_image"] for r in rows], 0.4, label="per-battle copy")
    right.set_xticks(x, names, rotation=30, ha="right")
    right.set_ylabel("ms per image (median)")
    right.set_title("Cost per image served")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats, 2 images per source")
    args = parser.parse_args()
    repeats, prompts = (3, 2) if args.quick else (15, 6)
    result = measure(repeats, prompts)
    print(f"{'source':<18}{'stored KB':>11}{'baseline ms':>13}{'copy ms':>10}")
    for r in result["rows"]:  # type: ignore[attr-defined]
        print(
            f"{r['source']:<18}{r['stored_kb_median']:>11.1f}"
            f"{r['baseline_ms_per_image']:>13.3f}{r['copy_ms_per_image']:>10.2f}"
        )
    print(f"served lengths (bytes): {result['served_lengths']}")
    print(f"cache hit: {result['cache_hit_us']:.2f} µs")
    RESULTS.mkdir(parents=True, exist_ok=True)
    result["mode"] = "quick" if args.quick else "full"
    (RESULTS / "media_anon.json").write_text(json.dumps(result, indent=2))
    plot(result, RESULTS / "media_anon.png")
    print(f"wrote {RESULTS / 'media_anon.json'} and {RESULTS / 'media_anon.png'}")
    lengths = result["served_lengths"]
    assert isinstance(lengths, list)
    summary = {
        "ms_per_image": f"{result['ms_per_image']:.1f}",
        "ms_per_battle_k4": f"{result['ms_per_battle_k4']:.1f}",
        "baseline_ms_per_image": f"{result['baseline_ms_per_image']:.3f}",
        "cache_hit_us": f"{result['cache_hit_us']:.2f}",
        "served_kb": f"{max(lengths) / 1000:.1f}",
        "stored_kb_min": f"{result['stored_kb_min']:.1f}",
        "stored_kb_max": f"{result['stored_kb_max']:.1f}",
        "served_lengths": len(lengths),
    }
    print("RESULT " + " ".join(f"{k}={v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
