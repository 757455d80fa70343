"""Bounded resources against a real server (issue 13, findings 4 and 5).

R-BODY-4: every request body has a hard cap whatever its framing; a 50 MB chunked body is cut
off after about the cap, answered 413, and the server's memory does not grow. R-EXPORT-5: a
client that drops the vote export (before or during the download) leaves no temporary file.
"""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.reliability import api
from tests.reliability.bounds import abandon_export, chunked_post, export_leftovers, rss_mb
from tests.reliability.conftest import ServerFactory
from tests.reliability.seed import ADMIN_TOKEN, ARENA, LOAD_ENV, seed_arena, upload_output
from tests.reliability.server import ServerProcess

BODY_CAP = 100_000  # KARENA_MAX_BODY_BYTES here; uploads keep LOAD_ENV's 300 000
BIG = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def bounded(
    module_database_url_factory, module_server_factory: ServerFactory, tmp_path_factory
) -> tuple[ServerProcess, Path]:
    """A seeded server with a small body cap and a TMPDIR of its own, with a few votes cast."""
    tmp = tmp_path_factory.mktemp("server-tmp")
    env = {**LOAD_ENV, "KARENA_MAX_BODY_BYTES": str(BODY_CAP), "TMPDIR": str(tmp)}
    server = module_server_factory(module_database_url_factory("sqlite"), env=env)
    server.start()
    seed_arena(server.base_url, prompts=2)
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        for i in range(4):
            battle = api.create_battle(client, arena=ARENA, voter=f"bound-{i}")
            vote = api.submit_rank_vote(
                client, arena=ARENA, token=battle.token, ranks=(1, 2, 3, 4), voter=f"bound-{i}"
            )
            assert vote.status_code == 200, vote.text
    return server, tmp


def test_r_body_4_a_50_mb_chunked_body_is_refused_quickly(bounded) -> None:
    """Before: no cap on chunked bodies (400 MB raised RSS by 800 MB). Now 413 near the cap."""
    server, _ = bounded
    before = rss_mb(server.pid)
    attempt = chunked_post(server.base_url, "/api/battles", BIG)
    assert attempt.status == 413
    # The server stopped reading near the cap; the rest is what loopback socket buffers took.
    assert attempt.sent < BIG // 5
    assert attempt.seconds < 30
    assert rss_mb(server.pid) - before < 20


_MULTIPART = (
    b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
    b"Content-Type: image/png\r\n\r\n"
)
_ROUTES = {
    "vote": ("/api/battles/nope/vote", "application/json", b'{"x":"', False),
    "admin-json": ("/api/admin/arenas", "application/json", b'{"x":"', True),
    "form": ("/battle", "application/x-www-form-urlencoded", b"prompt=", False),
    "upload": ("/api/admin/outputs", "multipart/form-data; boundary=xyz", _MULTIPART, True),
}


@pytest.mark.parametrize("route", sorted(_ROUTES))
def test_r_body_4_every_route_caps_a_chunked_body(bounded, route: str) -> None:
    """Public, admin, form and upload routes alike (the upload route at its own, larger cap)."""
    server, _ = bounded
    path, content_type, prefix, admin = _ROUTES[route]
    headers = api.admin_headers(ADMIN_TOKEN) if admin else {}
    attempt = chunked_post(
        server.base_url, path, 2 * 1024 * 1024, content_type=content_type, headers=headers,
        prefix=prefix,
    )  # fmt: skip
    assert attempt.status == 413


def test_r_body_4_parallel_bodies_do_not_grow_memory(bounded) -> None:
    """Three 50 MB chunked bodies at once (before: 3.5 GB RSS): refused, RSS flat."""
    server, _ = bounded
    before = rss_mb(server.pid)
    with ThreadPoolExecutor(3) as pool:
        attempts = list(
            pool.map(lambda _: chunked_post(server.base_url, "/api/battles", BIG), range(3))
        )
    assert [a.status for a in attempts] == [413] * 3
    assert rss_mb(server.pid) - before < 20


def test_r_body_4_declared_length_over_the_cap_is_refused_before_reading(bounded) -> None:
    server, _ = bounded
    response = httpx.post(
        server.base_url + "/api/battles",
        content=b"x" * (BODY_CAP + 1),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["detail"] == {"limit": BODY_CAP}


def test_r_body_4_the_upload_route_has_its_own_larger_cap(bounded) -> None:
    """A 200 KB upload passes (over the general cap, under KARENA_MAX_UPLOAD_BYTES)."""
    server, _ = bounded
    pixels = np.random.default_rng(1).integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG")
    assert BODY_CAP < len(buf.getvalue()) < 300_000
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        response = upload_output(
            client, arena=ARENA, model="alpha", prompt_key="p0", data=buf.getvalue()
        )
        assert response.status_code in (200, 201, 409), response.text
        too_big = chunked_post(
            server.base_url, "/api/admin/outputs", 500_000, prefix=_MULTIPART,
            content_type="multipart/form-data; boundary=xyz",
            headers=api.admin_headers(ADMIN_TOKEN),
        )  # fmt: skip
        assert too_big.status == 413


def test_r_export_5_dropped_exports_leave_no_temp_file(bounded) -> None:
    """Before: each dropped export left a /tmp/karena-export-* file forever."""
    server, tmp = bounded
    for i in range(10):
        abandon_export(server.base_url, ARENA, read_head=i % 2 == 1)
    # A complete export afterwards: the server has handled everything sent before it.
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        headers = api.admin_headers(ADMIN_TOKEN)
        done = client.get("/api/votes/export", params={"arena": ARENA}, headers=headers)
        assert done.status_code == 200 and len(done.text.splitlines()) == 4
    deadline = time.monotonic() + 10
    while export_leftovers(tmp) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert export_leftovers(tmp) == []
