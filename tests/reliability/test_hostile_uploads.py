"""Hostile uploads, one attack per test: each is refused (or neutralised) and stores nothing."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from tests.reliability import api, hostile
from tests.reliability.seed import ADMIN_TOKEN, ARENA, LOAD_ENV, upload_output

MAX_UPLOAD = int(LOAD_ENV["KARENA_MAX_UPLOAD_BYTES"])
MODEL = "alpha"
_keys = itertools.count()


@pytest.fixture
def client(shared_client: httpx.Client) -> httpx.Client:
    """An HTTP client of the shared, seeded server."""
    return shared_client


def _fresh_prompt(client: httpx.Client) -> str:
    """A new prompt with no output yet, so a later valid upload shows whether one was stored."""
    key = f"hostile-{next(_keys)}"
    response = client.post(
        "/api/admin/prompts",
        json={"arena": ARENA, "key": key, "text": f"hostile upload {key}"},
        headers=api.admin_headers(ADMIN_TOKEN),
    )
    assert response.status_code == 201, response.text
    return key


def _assert_refused_and_nothing_stored(
    client: httpx.Client, data: bytes, filename: str, content_type: str, statuses: set[int]
) -> httpx.Response:
    key = _fresh_prompt(client)
    response = upload_output(
        client, arena=ARENA, model=MODEL, prompt_key=key, data=data,
        filename=filename, content_type=content_type,
    )  # fmt: skip
    assert response.status_code in statuses, response.text
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    # Nothing was stored: a valid upload for the same (model, prompt) is not a conflict.
    valid = upload_output(
        client, arena=ARENA, model=MODEL, prompt_key=key, data=hostile.png_bytes()
    )
    assert valid.status_code == 201, valid.text
    return response


def test_oversized_upload_is_refused_with_413(client: httpx.Client) -> None:
    """A file over KARENA_MAX_UPLOAD_BYTES gets 413 (declared length)."""
    _assert_refused_and_nothing_stored(
        client, hostile.oversized_png(MAX_UPLOAD + 70_000), "big.png", "image/png", {413}
    )


def test_oversized_chunked_upload_without_length_is_refused(client: httpx.Client) -> None:
    """A streamed (chunked) body with no Content-Length cannot slip past the size limit."""
    key = _fresh_prompt(client)
    boundary = "karenaboundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in (("arena", ARENA), ("model", MODEL), ("prompt_key", key))
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    payload = hostile.oversized_png(MAX_UPLOAD * 3)
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield from parts
        yield head
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]
        yield tail

    response = client.post(
        "/api/admin/outputs",
        content=chunks(),
        headers={
            **api.admin_headers(ADMIN_TOKEN),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert response.status_code == 413, response.text
    valid = upload_output(
        client, arena=ARENA, model=MODEL, prompt_key=key, data=hostile.png_bytes()
    )
    assert valid.status_code == 201, valid.text


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_truncated_image_is_refused(client: httpx.Client, fmt: str) -> None:
    """An image cut in half (header intact) is refused as undecodable."""
    whole = hostile.png_bytes((64, 64)) if fmt == "png" else hostile.jpeg_bytes((64, 64))
    _assert_refused_and_nothing_stored(
        client, hostile.truncated(whole), f"cut.{fmt}", f"image/{fmt}", {415, 422}
    )


def test_polyglot_jpeg_with_html_is_refused(client: httpx.Client) -> None:
    """A real JPEG with an HTML page appended is refused."""
    _assert_refused_and_nothing_stored(
        client, hostile.polyglot_jpeg_html(), "cat.jpg", "image/jpeg", {415, 422}
    )


def test_polyglot_jpeg_with_zip_is_refused(client: httpx.Client) -> None:
    """A real JPEG with a zip archive appended is refused."""
    _assert_refused_and_nothing_stored(
        client, hostile.polyglot_jpeg_zip(), "cat.jpg", "image/jpeg", {415, 422}
    )


def test_html_behind_jpeg_magic_is_refused(client: httpx.Client) -> None:
    """HTML after a bare JPEG marker passes a magic-number check only; it must still be refused."""
    _assert_refused_and_nothing_stored(
        client, hostile.html_with_jpeg_magic(), "x.jpg", "image/jpeg", {415, 422}
    )


def test_svg_posing_as_png_is_refused(client: httpx.Client) -> None:
    """An SVG with script, named .png and sent as image/png, is refused."""
    _assert_refused_and_nothing_stored(
        client, hostile.SVG_PAYLOAD, "image.png", "image/png", {415, 422}
    )


def test_html_posing_as_jpeg_is_refused(client: httpx.Client) -> None:
    """An HTML page named .jpg and sent as image/jpeg is refused."""
    _assert_refused_and_nothing_stored(
        client, hostile.SCRIPT_PAYLOAD, "photo.jpg", "image/jpeg", {415, 422}
    )


def test_type_comes_from_content_not_from_the_name(client: httpx.Client) -> None:
    """A real PNG sent as evil.html / text/html is stored and served as an image, never as HTML."""
    key = _fresh_prompt(client)
    data = hostile.png_bytes(color=(1, 2, 3))
    response = upload_output(
        client, arena=ARENA, model=MODEL, prompt_key=key, data=data,
        filename="evil.html", content_type="text/html",
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "image/png"


def test_served_battle_media_is_a_clean_image_with_nosniff(client: httpx.Client) -> None:
    """Whatever was uploaded, what voters get is a decodable image with a fixed type."""
    battle = api.create_battle(client, arena=ARENA, voter="upload-viewer")
    for url in battle.slot_urls:
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/")
        # Exactly once (R-WEB-1: it used to be sent twice).
        assert response.headers.get_list("x-content-type-options") == ["nosniff"]
        assert b"<script" not in response.content.lower()
        with Image.open(io.BytesIO(response.content)) as image:
            image.load()
