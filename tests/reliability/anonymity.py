"""What a voter sees before voting, collected over HTTP, and the ways it could name a model.

:func:`collect_battle` plays a voter: it loads the vote page and every script and stylesheet it
links, opens a battle through the API, downloads every output and keeps every response header;
then it votes and records which model sat in which slot. :func:`find_leaks` searches all of it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
from PIL import Image

from tests.reliability import api

#: Headers that can fingerprint a file (and so the model that made it) across battles.
IDENTIFYING_HEADERS = ("etag", "last-modified", "content-disposition")
_LINKED = re.compile(r"""(?:src|href)\s*=\s*["'](/[^"'#?]*)""")


@dataclass
class SeenBattle:
    """One battle as the voter saw it before voting, and the reveal after."""

    token: str
    prompt: str
    documents: dict[str, bytes] = field(default_factory=dict)  # url -> body (pages, JS, JSON)
    headers: dict[str, httpx.Headers] = field(default_factory=dict)  # url -> response headers
    media: dict[int, bytes] = field(default_factory=dict)  # slot -> bytes
    media_urls: dict[int, str] = field(default_factory=dict)
    models: dict[int, str] = field(default_factory=dict)  # slot -> model (after the vote)
    early_result_status: int = 0


def _get(client: httpx.Client, url: str, seen: SeenBattle) -> httpx.Response:
    response = client.get(url)
    seen.headers[url] = response.headers
    return response


def collect_battle(client: httpx.Client, *, arena: str, voter: str) -> SeenBattle:
    """Play one voter through one battle, keeping everything served before the vote."""
    client.cookies.set(api.VOTER_COOKIE, api.voter_id(voter))
    page = client.get("/", params={"arena": arena}, headers={"Accept": "text/html"})
    battle = api.create_battle(client, arena=arena, voter=voter)
    seen = SeenBattle(token=battle.token, prompt=battle.prompt)
    seen.documents["/"] = page.content
    seen.headers["/"] = page.headers
    for link in sorted(set(_LINKED.findall(page.text))):
        if link.startswith("/static/"):
            seen.documents[link] = _get(client, link, seen).content
    battle_page = f"/battle/{battle.token}"
    seen.documents[battle_page] = _get(client, battle_page, seen).content
    battle_json = f"/api/battles/{battle.token}"
    seen.documents[battle_json] = _get(client, battle_json, seen).content
    for position, url in enumerate(battle.slot_urls):
        seen.media_urls[position] = url
        seen.media[position] = _get(client, url, seen).content
    early = client.get(f"/api/battles/{battle.token}/result")
    seen.early_result_status = early.status_code
    seen.documents["early-result"] = early.content
    ranks = tuple(range(1, battle.k + 1))
    vote = api.submit_rank_vote(client, arena=arena, token=battle.token, ranks=ranks, voter=voter)
    if vote.status_code != 200:
        raise api.ApiError(vote.status_code, vote.text)
    for contestant in vote.json()["contestants"]:
        seen.models[int(contestant["position"])] = contestant["model_name"]
    return seen


def image_metadata(data: bytes) -> dict[str, object]:
    """Metadata an image carries: PNG text chunks, EXIF, ICC, comments (empty when clean)."""
    found: dict[str, object] = {}
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        for key, value in image.info.items():
            if key in (
                "dpi",
                "gamma",
                "transparency",
                "aspect",
                "srgb",
                "interlace",
                "jfif",
                "jfif_version",
                "jfif_unit",
                "jfif_density",
                "progressive",
                "progression",
                "loop",
                "duration",
                "background",
                "compression",
                "adobe",
                "adobe_transform",
                "comment",
            ):
                # Rendering hints, identical for every encoder setting we use; "comment": the
                # served JPEG's padding, keyed noise (find_leaks also searches the raw bytes).
                continue
            found[str(key)] = value
        exif = image.getexif()
        if len(exif) > 0:
            found["exif"] = dict(exif)
    return found


def find_leaks(battles: list[SeenBattle], model_names: list[str]) -> list[str]:
    """Every way the pre-vote material could tell a voter which model is which."""
    leaks: list[str] = []
    needles = [(name, name.lower().encode()) for name in model_names]
    for seen in battles:
        if seen.early_result_status < 400:
            leaks.append(f"{seen.token}: the reveal was served before the vote")
        blobs = [*seen.documents.items(), *((f"media {p}", b) for p, b in seen.media.items())]
        for where, body in blobs:
            lowered = body.lower()
            leaks += [f"{seen.token}: {name!r} in {where}" for name, n in needles if n in lowered]
        for url, headers in seen.headers.items():
            for header in IDENTIFYING_HEADERS:
                if header in headers and not url.startswith("/static/"):
                    leaks.append(f"{seen.token}: {header} header on {url}")
            text = " ".join(f"{k}: {v}" for k, v in headers.items()).lower().encode()
            leaks += [
                f"{seen.token}: {name!r} in headers of {url}" for name, n in needles if n in text
            ]
        for position, url in seen.media_urls.items():
            if url != f"/b/{seen.token}/{position}":
                leaks.append(f"{seen.token}: media URL {url!r} is not opaque")
        for position, data in seen.media.items():
            meta = image_metadata(data)
            if meta:
                leaks.append(f"{seen.token}: slot {position} carries metadata {sorted(meta)}")
    return leaks


def size_fingerprints(battles: list[SeenBattle], content_class: dict[str, str]) -> list[str]:
    """Served lengths that name a model: a length seen with one model only, among several.

    ``content_class`` maps each model to the pixels it uploaded for every prompt (models in one
    class uploaded identical pixels, each with its own metadata). Since images are served as
    per-battle copies (R-ANON-2), the bytes differ in every battle; what must not differ by
    model is their length (R-ANON-3).
    """
    by_length: dict[int, set[str]] = defaultdict(set)
    for seen in battles:
        for position, data in seen.media.items():
            by_length[len(data)].add(seen.models[position])
    if len(by_length) < 2:
        return []
    return [
        f"length {length} was only ever served for {sorted(models)} "
        f"(classes {sorted({content_class.get(m, '?') for m in models})})"
        for length, models in sorted(by_length.items())
        if len(models) == 1
    ]


def _shape(data: bytes) -> tuple[object, ...]:
    """What an image's shape tells: format, size, and rows/columns of black bars at its edges."""
    import numpy as np

    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("L"), dtype=np.int16)
        fmt, size = image.format, image.size
    dark_rows = pixels.max(axis=1) <= 8
    dark_cols = pixels.max(axis=0) <= 8

    def edge(flags: np.ndarray) -> int:
        return int(np.argmin(flags)) if not flags.all() else len(flags)

    bars = (edge(dark_rows), edge(dark_rows[::-1]), edge(dark_cols), edge(dark_cols[::-1]))
    return (fmt, size, bars)


def media_attack(battles: list[SeenBattle], export_hashes: dict[str, str]) -> list[str]:
    """An attacker who names a slot's model before voting, from what it was served (finding 1, 2).

    The battles are played in order. Before each vote the attacker looks each slot up by: its
    SHA-256 in the public export (``export_hashes``: hash -> model, from ``output_sha256``), the
    same bytes in a battle already revealed, a length, or a shape (size and black bars) seen
    with one model only so far. After the vote it learns who sat where. Every correct naming is
    a hit; a guess is made only when the feature points at one model.
    """
    hits: list[str] = []
    learned: dict[str, dict[object, set[str]]] = {
        k: defaultdict(set) for k in ("bytes", "len", "shape")
    }
    for seen in battles:
        for position, data in seen.media.items():
            truth = seen.models[position]
            digest = hashlib.sha256(data).hexdigest()
            features = {"bytes": digest, "len": len(data), "shape": _shape(data)}
            guesses = {"export hash": export_hashes.get(digest)}
            for name, value in features.items():
                models = learned[name].get(value, set())
                guesses[name] = next(iter(models)) if len(models) == 1 else None
            hits += [
                f"{seen.token} slot {position}: {way} names {truth}"
                for way, guess in guesses.items()
                if guess == truth
            ]
        for position, data in seen.media.items():
            truth = seen.models[position]
            learned["bytes"][hashlib.sha256(data).hexdigest()].add(truth)
            learned["len"][len(data)].add(truth)
            learned["shape"][_shape(data)].add(truth)
    return hits


def export_hashes(client: httpx.Client, arena: str) -> dict[str, str]:
    """hash -> model from the public vote export's ``output_sha256`` column (if it has one)."""
    found: dict[str, str] = {}
    for line in client.get("/api/votes/export", params={"arena": arena}).text.splitlines():
        if line.strip():
            row = json.loads(line)
            for digest, model in zip(row.get("output_sha256") or [], row["models"], strict=False):
                found[digest] = model
    return found


def dimensions_by_model(battles: list[SeenBattle]) -> dict[tuple[int, int], set[str]]:
    """Which models were served at each image size (width, height)."""
    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    for seen in battles:
        for position, data in seen.media.items():
            with Image.open(io.BytesIO(data)) as image:
                found[image.size].add(seen.models[position])
    return found


def telling_image(model_index: int, prompt_index: int, model: str) -> bytes:
    """Outputs whose stored form would name their model: by bytes, by size, by aspect."""
    import numpy as np

    from tests.reliability import hostile

    if model_index == 0:  # a large file: noise does not compress (finding 2: sizes)
        rng = np.random.default_rng(prompt_index)
        pixels = rng.integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(buf, format="PNG")
        return buf.getvalue()
    if model_index == 1:  # 640×360: a letterbox would show its aspect (finding 2: shape)
        return hostile.png_bytes(size=(640, 360), color=(90, 40 * prompt_index % 256, 200))
    return hostile.png_bytes(size=(64, 64), color=(30 * model_index, 40 * prompt_index % 256, 9))
