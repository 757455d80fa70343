"""Anonymity: before voting, nothing a voter can fetch tells which model made which output."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from karena.media.anonymise import jpeg_target
from tests.reliability import hostile
from tests.reliability.anonymity import (
    collect_battle,
    dimensions_by_model,
    export_hashes,
    find_leaks,
    media_attack,
    size_fingerprints,
    telling_image,
)
from tests.reliability.conftest import ServerFactory
from tests.reliability.seed import ARENA, LOAD_ENV, seed_arena

#: Distinctive names, so any occurrence in served bytes is a leak, not a coincidence.
MODELS = ("ZephyrDiffusionXL", "QuokkaGen", "MarmotImagine", "NarwhalPix", "OcelotArt", "PangolinV")
#: The first three upload PNGs, the others JPEGs: identical pixels per prompt within each group.
CONTENT_CLASS = {name: ("png" if i < 3 else "jpeg") for i, name in enumerate(MODELS)}
BATTLES = 12


def _image_naming_its_model(model_index: int, prompt_index: int, model: str) -> bytes:
    """Same pixels for every model of a group on one prompt; metadata that names the model."""
    color = (60 * prompt_index % 256, 120, 200)
    return hostile.image_naming_model(model, CONTENT_CLASS[model], color)


@pytest.fixture(scope="module")
def voter_view(module_database_url_factory, module_server_factory: ServerFactory):
    """A server whose outputs all carry EXIF / PNG text naming their model, and what voters saw."""
    server = module_server_factory(module_database_url_factory("sqlite"), env=LOAD_ENV)
    server.start()
    seed_arena(server.base_url, models=MODELS, prompts=3, image=_image_naming_its_model)
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        return [collect_battle(client, arena=ARENA, voter=f"anon-{i}") for i in range(BATTLES)]


def test_no_model_name_in_pages_scripts_json_headers_or_media(voter_view) -> None:
    """HTML, JS, battle JSON, headers, media URLs and media metadata never name a model."""
    assert find_leaks(voter_view, list(MODELS)) == []


def test_served_media_carries_no_exif_or_png_text(voter_view) -> None:
    """Every uploaded image named its model in EXIF or tEXt; every served one carries nothing."""
    from tests.reliability.anonymity import image_metadata

    served = [data for seen in voter_view for data in seen.media.values()]
    assert len(served) == BATTLES * 4
    assert [image_metadata(data) for data in served] == [{}] * len(served)


def test_response_sizes_do_not_identify_models(voter_view) -> None:
    """Same pixels from different models are served as the same bytes: size tells nothing."""
    models_seen = {m for seen in voter_view for m in seen.models.values()}
    assert models_seen == set(MODELS)
    assert size_fingerprints(voter_view, CONTENT_CLASS) == []


def test_reveal_is_refused_before_the_vote(voter_view) -> None:
    """The result endpoint answers 4xx until the battle has been voted on."""
    assert {seen.early_result_status for seen in voter_view} <= {404, 409, 403}


def test_image_dimensions_do_not_identify_models(
    database_url_factory, server_factory: ServerFactory
) -> None:
    """Models rendering at different native sizes are not told apart by served size (R-ANON-1)."""
    server = server_factory(database_url_factory("sqlite"), env=LOAD_ENV)
    server.start()

    def native_size(model_index: int, prompt_index: int, model: str) -> bytes:
        side = 32 + 16 * model_index
        return hostile.png_bytes(size=(side, side), color=(50, 60 * prompt_index % 256, 70))

    seed_arena(server.base_url, models=MODELS, prompts=2, image=native_size)
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        seen = [collect_battle(client, arena=ARENA, voter=f"dim-{i}") for i in range(6)]
    unique = {
        size: models for size, models in dimensions_by_model(seen).items() if len(models) == 1
    }
    assert unique == {}


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_r_anon_2_3_an_attacker_learning_from_reveals_names_no_slot(
    database_url_factory, server_factory: ServerFactory, fmt: str
) -> None:
    """Hash (against the export and past reveals), length and shape name no slot's model.

    Issue 13, findings 1 and 2: before, 11 of 11 slots were named by hash and 16 of 16 by size
    or letterbox. The attacker plays 8 battles, learning who sat where after each vote. In both
    served formats; as fixed-length JPEG (the default) one model's pure noise is over the
    target and is smoothed to fit rather than served at a second length.
    """
    env = {**LOAD_ENV, "KARENA_MEDIA_SERVED_FORMAT": fmt}
    server = server_factory(database_url_factory("sqlite"), env=env)
    server.start()
    seed_arena(server.base_url, models=MODELS[:4], prompts=2, image=telling_image)
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        seen = [collect_battle(client, arena=ARENA, voter=f"atk-{i}") for i in range(8)]
        hashes = export_hashes(client, ARENA)
    assert {m for s in seen for m in s.models.values()} == set(MODELS[:4])
    assert media_attack(seen, hashes) == []
    served = [data for s in seen for data in s.media.values()]
    length = jpeg_target(512, 512, 3.75) if fmt == "jpeg" else 787_072
    assert {len(data) for data in served} == {length}
    assert len(set(served)) == len(served) == 8 * 4
    for data in served:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            assert (img.format, img.size) == (fmt.upper(), (512, 512))
