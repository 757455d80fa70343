"""Gallery import in its three layouts, from folders and zips, and path-traversal refusal."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from karena.errors import InvalidInput, UnsupportedMedia
from karena.generators.gallery import ksort_model_name
from karena.services.gallery import import_gallery
from karena.store import Store
from tests.conftest import png_bytes


def jpeg_bytes(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, format="JPEG")
    return buf.getvalue()


def make_folder_gallery(root: Path) -> None:
    root.mkdir()
    (root / "prompts.jsonl").write_text(
        "\n".join(
            json.dumps({"id": f"q{j}", "text": f"three red cubes, scene {j}"}) for j in range(2)
        )
    )
    for j in range(2):
        (root / f"q{j}").mkdir()
        for i, model in enumerate(["alpha", "beta", "gamma", "delta"]):
            (root / f"q{j}" / f"{model}.png").write_bytes(png_bytes((50 * i, 20 * j, 0)))


def test_folder_layout_imports_prompts_models_and_outputs(store: Store, tmp_path: Path) -> None:
    make_folder_gallery(tmp_path / "gal")
    store.catalog.create_arena(slug="gal", k=4)
    report = import_gallery(store, arena="gal", path=tmp_path / "gal")
    assert report.layout == "folder"
    assert (report.prompts, report.outputs_added) == (2, 8)
    assert sorted(report.models_added) == ["alpha", "beta", "delta", "gamma"]
    battle = store.battles.create_battle(arena="gal", seed=0)
    assert battle.k == 4 and battle.prompt_text.startswith("three red cubes")
    # Importing again adds nothing.
    again = import_gallery(store, arena="gal", path=tmp_path / "gal")
    assert (again.outputs_added, again.outputs_unchanged, again.models_added) == (0, 8, [])


def test_wrong_layout_finds_nothing_and_says_so(store: Store, tmp_path: Path) -> None:
    """Finding 14.9: ``--layout ksort`` on a folder gallery reported "0 prompts" and exit 0."""
    make_folder_gallery(tmp_path / "gal")
    store.catalog.create_arena(slug="gal", k=4)
    with pytest.raises(InvalidInput, match=r"nothing to import as the 'ksort' layout.*folder"):
        import_gallery(store, arena="gal", path=tmp_path / "gal", layout="ksort")
    assert store.catalog.list_models(arena="gal") == ()


def test_folder_layout_from_a_zip(store: Store, tmp_path: Path) -> None:
    make_folder_gallery(tmp_path / "gal")
    archive = tmp_path / "gal.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted((tmp_path / "gal").rglob("*")):
            if f.is_file():
                zf.write(f, f"gallery/{f.relative_to(tmp_path / 'gal').as_posix()}")
    store.catalog.create_arena(slug="gal", k=4)
    report = import_gallery(store, arena="gal", path=archive)
    assert (report.layout, report.outputs_added) == ("folder", 8)


def test_manifest_layout(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "man"
    (root / "imgs").mkdir(parents=True)
    lines = []
    for i, model in enumerate(["m1", "m2", "m3"]):
        (root / "imgs" / f"{model}.jpg").write_bytes(jpeg_bytes((80 * i, 0, 0)))
        lines.append(
            {
                "model": model,
                "prompt": "a cat on a mat",
                "prompt_id": "cat",
                "path": f"imgs/{model}.jpg",
                "organization": "org",
                "metadata": {"s": i},
            }
        )
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    store.catalog.create_arena(slug="man", k=3)
    report = import_gallery(store, arena="man", path=root / "manifest.jsonl")
    assert (report.layout, report.prompts, report.outputs_added) == ("manifest", 1, 3)
    out = store.catalog.find_output(arena="man", model="m2", prompt_key="cat")
    assert out is not None and out.content_type == "image/png" and out.metadata == {"s": 1}
    assert store.catalog.get_model(arena="man", name="m1").organization == "org"


@pytest.mark.parametrize("bad", ["../outside.png", "/etc/passwd", "imgs/../../x.png", "C:\\x.png"])
def test_manifest_path_traversal_is_refused_and_nothing_imported(
    store: Store, tmp_path: Path, bad: str
) -> None:
    root = tmp_path / "man"
    root.mkdir()
    (tmp_path / "outside.png").write_bytes(png_bytes((1, 2, 3)))
    (root / "ok.png").write_bytes(png_bytes((4, 5, 6)))
    rows = [
        {"model": "m1", "prompt": "p", "path": "ok.png"},
        {"model": "m2", "prompt": "p", "path": bad},
    ]
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    store.catalog.create_arena(slug="man", k=2)
    with pytest.raises(InvalidInput) as exc:
        import_gallery(store, arena="man", path=root / "manifest.jsonl")
    assert "line 2" in exc.value.message
    assert store.catalog.list_models(arena="man") == ()


@pytest.mark.parametrize("member", ["../evil.png", "/abs/evil.png", "a/../../evil.png"])
def test_zip_path_traversal_is_refused(store: Store, tmp_path: Path, member: str) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("prompts.jsonl", json.dumps({"id": "q", "text": "t"}))
        zf.writestr(member, png_bytes((9, 9, 9)))
    store.catalog.create_arena(slug="z", k=2)
    with pytest.raises(InvalidInput) as exc:
        import_gallery(store, arena="z", path=archive)
    assert "evil.png" in exc.value.message
    assert store.catalog.list_models(arena="z") == ()


def test_symlink_out_of_the_folder_is_refused(store: Store, tmp_path: Path) -> None:
    make_folder_gallery(tmp_path / "gal")
    (tmp_path / "secret.png").write_bytes(png_bytes((1, 1, 1)))
    (tmp_path / "gal" / "q0" / "sneaky.png").symlink_to(tmp_path / "secret.png")
    store.catalog.create_arena(slug="gal", k=4)
    with pytest.raises(InvalidInput, match="outside the gallery"):
        import_gallery(store, arena="gal", path=tmp_path / "gal")


def test_svg_in_a_gallery_is_rejected_with_its_path(store: Store, tmp_path: Path) -> None:
    make_folder_gallery(tmp_path / "gal")
    (tmp_path / "gal" / "q1" / "alpha.png").write_bytes(
        b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    )
    store.catalog.create_arena(slug="gal", k=4)
    with pytest.raises(UnsupportedMedia, match=r"q1/alpha\.png"):
        import_gallery(store, arena="gal", path=tmp_path / "gal")


def make_ksort_dataset(root: Path, votes: list[tuple[list[str], list[int]]]) -> None:
    """The K-Sort Eval dataset layout: Image/<folder>/result.json and 0..3.jpg."""
    for n, (names, ranks) in enumerate(votes):
        folder = root / "Image" / f"vote_{n:03d}"
        folder.mkdir(parents=True)
        result = {"prompt": [f"a photo number {n}"], "img_rank": ranks, "models_name": names}
        (folder / "result.json").write_text(json.dumps(result))
        for i in range(4):
            (folder / f"{i}.jpg").write_bytes(jpeg_bytes((60 * i, 10 * n, 30)))


def test_ksort_layout_imports_outputs_and_human_rankings(store: Store, tmp_path: Path) -> None:
    names = [
        "imagenhub_LCM_generation",
        "imagenhub_SDXL-turbo_generation",
        "imagenhub_PixArt-alpha_generation",
        "imagenhub_Dreamshaper-xl-turbo_generation",
    ]
    make_ksort_dataset(tmp_path / "ks", [(names, [0, 1, 2, 3]), (names[::-1], [3, 0, 1, 2])])
    store.catalog.create_arena(slug="ks", k=4)
    report = import_gallery(store, arena="ks", path=tmp_path / "ks")
    assert (report.layout, report.votes_added, report.outputs_added) == ("ksort", 2, 8)
    assert sorted(report.models_added) == [
        "Dreamshaper-xl",
        "LCM-v1.5",
        "PixArt-alpha",
        "SDXL-turbo",
    ]
    refs = store.boards.reference_battles(arena="ks")
    assert len(refs) == 2
    # img_rank is the rank of each image (0-based in this dataset): image 0 was best.
    assert refs[0].models[0] == "LCM-v1.5" and refs[0].ranks == (1, 2, 3, 4)
    assert refs[1].models[1] == "PixArt-alpha" and refs[1].ranks == (4, 1, 2, 3)
    assert all(p.exists() for r in refs for p in r.media_paths)
    board = {r.model_name: r for r in store.boards.leaderboard(arena="ks")}
    assert all(r.votes == 2 for r in board.values())
    # The imported votes replay exactly, and a second import adds no duplicate vote.
    incremental = [(r.mu, r.sigma) for r in store.boards.leaderboard(arena="ks")]
    store.boards.recompute(arena="ks")
    assert [(r.mu, r.sigma) for r in store.boards.leaderboard(arena="ks")] == incremental
    again = import_gallery(store, arena="ks", path=tmp_path / "ks")
    assert (again.votes_added, again.votes_skipped) == (0, 2)
    assert store.voting.list_votes(arena="ks").total == 2


def test_ksort_bad_result_json_is_reported(store: Store, tmp_path: Path) -> None:
    names = ["a_m1", "a_m2", "a_m3", "a_m4"]
    make_ksort_dataset(tmp_path / "ks", [(names, [1, 2, 3])])
    store.catalog.create_arena(slug="ks", k=4)
    with pytest.raises(InvalidInput, match=r"result\.json"):
        import_gallery(store, arena="ks", path=tmp_path / "ks")


def test_ksort_model_names_follow_the_reference_code() -> None:
    assert ksort_model_name("imagenhub_LCM_generation") == "LCM-v1.5"
    assert ksort_model_name("videogenhub_Sora_generation") == "Sora (official samples)"
    assert ksort_model_name("plain") == "plain"
