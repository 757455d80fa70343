"""Path traversal in gallery import: ``../``, absolute paths and links in manifests, zips and
folders are refused before anything is imported, and nothing outside the gallery is read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability import hostile
from tests.reliability.databases import sqlite_url

ARENA = "gallery"
SECRET_NAME = "outside-secret"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[object, Path, Path]]:
    """A store with an empty arena, a gallery folder, and a valid image *outside* the gallery."""
    from karena.settings import Settings
    from karena.store.api import Store

    settings = Settings(database_url=sqlite_url(tmp_path / "k.db"), data_dir=tmp_path / "data")
    store = Store.open(settings)
    store.catalog.create_arena(slug=ARENA, k=2)
    gallery = tmp_path / "nest" / "gallery"
    gallery.mkdir(parents=True)
    # The file an escaping path would reach: ../secret from the gallery, and /abs/path.
    secret = tmp_path / "nest" / f"{SECRET_NAME}.png"
    secret.write_bytes(hostile.png_bytes(color=(6, 6, 6)))
    try:
        yield store, gallery, secret
    finally:
        store.close()


def _imported_nothing(store: object) -> None:
    assert store.catalog.list_models(arena=ARENA) == ()  # type: ignore[attr-defined]
    assert store.catalog.list_prompts(arena=ARENA).total == 0  # type: ignore[attr-defined]


def _import(store: object, path: Path) -> None:
    from karena.services.gallery import import_gallery

    import_gallery(store, arena=ARENA, path=path)  # type: ignore[arg-type]


def _manifest_rows(paths: list[str]) -> list[dict[str, object]]:
    return [
        {"model": f"m{i}", "prompt": "a red cube", "prompt_id": "p0", "path": p}
        for i, p in enumerate(paths)
    ]


def _escaping_paths(secret: Path) -> dict[str, str]:
    return {
        "dotdot": f"../{secret.name}",
        "dotdot_deep": f"p0/../../{secret.name}",
        "absolute": str(secret),
        "backslash": f"..\\{secret.name}",
        "home": f"~/{secret.name}",
        "nul": f"p0/x.png\x00../{secret.name}",
    }


@pytest.mark.parametrize("case", ["dotdot", "dotdot_deep", "absolute", "backslash", "home", "nul"])
def test_manifest_path_escaping_the_gallery_is_refused(world, case: str) -> None:
    """A JSONL manifest line pointing outside the gallery fails the whole import, atomically."""
    from karena.errors import KarenaError

    store, gallery, secret = world
    (gallery / "p0").mkdir()
    (gallery / "p0" / "ok.png").write_bytes(hostile.png_bytes())
    rows = _manifest_rows(["p0/ok.png", _escaping_paths(secret)[case]])
    manifest = hostile.write_jsonl(gallery / "manifest.jsonl", rows)
    with pytest.raises(KarenaError) as caught:
        _import(store, manifest)
    assert caught.value.status_code < 500
    _imported_nothing(store)


@pytest.mark.parametrize("name", hostile.traversal_names(SECRET_NAME))
def test_zip_member_escaping_the_gallery_is_refused(world, name: str, tmp_path: Path) -> None:
    """A zip whose member name climbs out or is absolute is refused; nothing is written."""
    from karena.errors import KarenaError

    store, _, secret = world
    archive = tmp_path / "gallery.zip"
    prompts = json.dumps({"id": "p1", "text": "a red cube"}).encode() + b"\n"
    archive.write_bytes(
        hostile.zip_bytes(
            {"prompts.jsonl": prompts, "p1/ok.png": hostile.png_bytes(), name: hostile.png_bytes()}
        )
    )
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(KarenaError) as caught:
        _import(store, archive)
    assert caught.value.status_code < 500
    _imported_nothing(store)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp", f"{SECRET_NAME}.png").exists()
    assert secret.read_bytes() == hostile.png_bytes(color=(6, 6, 6))


def test_manifest_inside_zip_escaping_is_refused(world, tmp_path: Path) -> None:
    """A manifest inside a zip that points at ../ is refused too."""
    from karena.errors import KarenaError

    store, _, secret = world
    rows = _manifest_rows([f"../{secret.name}"])
    manifest = "".join(json.dumps(r) + "\n" for r in rows).encode()
    archive = tmp_path / "manifest.zip"
    archive.write_bytes(hostile.zip_bytes({"manifest.jsonl": manifest}))
    with pytest.raises(KarenaError):
        _import(store, archive)
    _imported_nothing(store)


def test_folder_symlink_leaving_the_gallery_is_not_followed(world) -> None:
    """A gallery file linking to a file outside is refused or skipped, never read."""
    from karena.errors import KarenaError

    store, gallery, secret = world
    (gallery / "prompts.jsonl").write_text(json.dumps({"id": "p0", "text": "a red cube"}) + "\n")
    (gallery / "p0").mkdir()
    (gallery / "p0" / "honest.png").write_bytes(hostile.png_bytes())
    os.symlink(secret, gallery / "p0" / "sneaky.png")
    try:
        _import(store, gallery)
    except KarenaError as exc:
        assert exc.status_code < 500
        return
    names = {m.name for m in store.catalog.list_models(arena=ARENA)}
    assert "sneaky" not in names


def test_cli_import_reports_traversal_in_one_line(world, tmp_path: Path) -> None:
    """``karena import`` on an escaping manifest: exit 2, one ``error:`` line, no traceback."""
    store, gallery, secret = world
    manifest = hostile.write_jsonl(
        gallery / "manifest.jsonl", _manifest_rows([f"../{secret.name}"])
    )
    url = sqlite_url(tmp_path / "k.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARENA_")}
    env["KARENA_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "karena.cli.main", "import", str(manifest),
         "--arena", ARENA, "--database-url", url],
        capture_output=True, text=True, timeout=180, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and ".." in errors[0], done.stderr
    _imported_nothing(store)
