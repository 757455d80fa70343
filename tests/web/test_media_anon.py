"""What a battle serves names no model: bytes, hashes, sizes (issue 13, findings 1 and 2).

R-ANON-2: a slot's bytes differ in every battle (so hashing it names nothing), the same slot
reloads identically, and the public export lists no content hash. R-ANON-3: every image slot
is served at one length, so Content-Length names nothing either: a fixed-length JPEG by
default, stored-block PNG with ``KARENA_MEDIA_SERVED_FORMAT=png``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pyarrow.parquet as pq
import pytest
from PIL import Image

from karena.media.anonymise import jpeg_target
from tests.web.conftest import AppFactory, ArenaApp

BATTLES = 8


def _served(app: ArenaApp, battles: int = BATTLES) -> list[tuple[str, int, bytes, str]]:
    """(token, slot, bytes, model) for every slot of ``battles`` battles, the model after a vote."""
    seen = []
    for _ in range(battles):
        battle = app.client.post("/api/battles", json={"arena": "demo"}).json()
        slots = [app.client.get(s["url"]) for s in battle["slots"]]
        assert all(r.status_code == 200 for r in slots)
        served_types = {r.headers["content-type"] for r in slots}
        media = app.client.app.state.served_media  # type: ignore[attr-defined]
        assert served_types == {f"image/{media.fmt}" if media.enabled else "image/png"}
        # The battle JSON announces the type the slot is served as.
        assert {s["content_type"] for s in battle["slots"]} == served_types
        vote = app.client.post(
            f"/api/battles/{battle['token']}/vote",
            json={"mode": "rank", "ranks": list(range(1, battle["k"] + 1))},
        ).json()
        models = {c["position"]: c["model_name"] for c in vote["contestants"]}
        seen += [(battle["token"], i, r.content, models[i]) for i, r in enumerate(slots)]
    return seen


def test_r_anon_2_no_served_hash_repeats_or_matches_a_stored_output(arena_app: ArenaApp) -> None:
    served = _served(arena_app)
    hashes = [hashlib.sha256(data).hexdigest() for _, _, data, _ in served]
    assert len(set(hashes)) == len(hashes) == BATTLES * 4
    find = arena_app.store.catalog.find_output
    stored = {
        out.sha256
        for m in arena_app.arena.models
        for p in arena_app.arena.prompts
        if (out := find(arena="demo", model=m.name, prompt_key=p.key)) is not None
    }
    assert len(stored) >= 4 and not stored & set(hashes)


def test_r_anon_2_a_reload_serves_the_same_bytes_in_every_worker(make_app: AppFactory) -> None:
    """One slot reloads identically, from the cache and from a second app with a cold cache."""
    first = make_app()
    battle = first.client.post("/api/battles", json={"arena": "demo"}).json()
    url = battle["slots"][1]["url"]
    body = first.client.get(url).content
    assert first.client.get(url).content == body
    second = make_app(media_cache_bytes=0)  # another worker: same secret, nothing cached
    assert second.client.get(url).content == body


def test_r_anon_2_public_export_lists_no_content_hash(arena_app: ArenaApp) -> None:
    _served(arena_app, battles=2)
    get = arena_app.client.get
    jsonl = [json.loads(x) for x in get("/api/votes/export?format=jsonl").text.splitlines()]
    rows = list(csv.DictReader(io.StringIO(get("/api/votes/export?format=csv").text)))
    table = pq.read_table(io.BytesIO(get("/api/votes/export?format=parquet").content))
    assert len(jsonl) == len(rows) == table.num_rows == 2
    assert "models" in jsonl[0] and "models" in rows[0] and "models" in table.column_names
    assert all("output_sha256" not in r for r in [*jsonl, *rows])
    assert "output_sha256" not in table.column_names
    assert not any("sha256" in line for line in get("/api/votes/export").text.splitlines())


@pytest.mark.parametrize(
    ("fmt", "length"), [("jpeg", jpeg_target(512, 512, 3.75)), ("png", 787_072)]
)
def test_r_anon_3_every_image_slot_has_one_length_and_one_shape(
    make_app: AppFactory, fmt: str, length: int
) -> None:
    """The demo's renderers differ by 5× in stored size; served, every slot has one length
    (122 880 bytes as JPEG, 787 072 as PNG on the 512 canvas) and decodes at 512² RGB."""
    served = _served(make_app(media_served_format=fmt))
    assert len({model for *_, model in served}) >= 4
    assert {len(data) for _, _, data, _ in served} == {length}
    assert len({data for _, _, data, _ in served}) == len(served)
    shapes = set()
    for _, _, data, _ in served:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            shapes.add((img.format, img.size, img.mode))
    assert shapes == {(fmt.upper(), (512, 512), "RGB")}


def test_media_per_battle_off_serves_the_stored_bytes(make_app: AppFactory) -> None:
    """The switch exists for operators who accept the risk; off, a slot is the stored file."""
    app = make_app(media_per_battle=False)
    token, slot, data, _ = _served(app, battles=1)[0]
    stored = app.store.battles.battle_media(token=token, position=slot).data
    assert data == stored


def test_r_anon_3_the_first_request_makes_every_slot_so_latency_names_no_slot(
    arena_app: ArenaApp,
) -> None:
    """A slot's first request makes all of the battle's copies: the others are cache hits, so
    how long a slot takes does not depend on its model's file (decode cost grows with it)."""
    battle = arena_app.client.post("/api/battles", json={"arena": "demo"}).json()
    cache = arena_app.client.app.state.served_media.cache  # type: ignore[attr-defined]
    assert all(cache.get(battle["token"], s["position"]) is None for s in battle["slots"])
    third = arena_app.client.get(battle["slots"][2]["url"]).content
    made = [cache.get(battle["token"], s["position"]) for s in battle["slots"]]
    assert all(m is not None for m in made) and made[2] == third
    assert [arena_app.client.get(s["url"]).content for s in battle["slots"]] == made


def test_slots_asked_for_at_once_are_consistent(arena_app: ArenaApp) -> None:
    """A browser fetches all K slots together (one request makes them, the others wait): each
    answer is the copy every later reload gets, and all differ."""
    from concurrent.futures import ThreadPoolExecutor

    battle = arena_app.client.post("/api/battles", json={"arena": "demo"}).json()
    urls = [s["url"] for s in battle["slots"]]
    with ThreadPoolExecutor(len(urls)) as pool:
        together = list(pool.map(lambda url: arena_app.client.get(url).content, urls))
    assert together == [arena_app.client.get(url).content for url in urls]
    assert len({len(b) for b in together}) == 1 and len(set(together)) == len(together)
