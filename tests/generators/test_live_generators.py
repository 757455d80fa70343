"""Live generators against a real HTTP server on 127.0.0.1, the Python adapter, typed prompts."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from karena.errors import ConfigError, Conflict, InvalidInput, UpstreamError
from karena.generators.openai_images import OpenAIImagesGenerator
from karena.generators.python import PythonGenerator
from karena.services.live import LiveGenerators
from karena.store import Store
from tests.conftest import TestClock, png_bytes


class ImageServer:
    """A tiny OpenAI-compatible images endpoint whose behaviour a test sets."""

    def __init__(self) -> None:
        self.mode = "b64"
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._send(200, png_bytes((1, 2, 3)), "image/png")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                outer.requests.append(body)
                outer.auth.append(self.headers.get("Authorization"))
                if self.path != "/v1/images/generations":
                    self._send(404, b'{"error": "no route"}')
                elif outer.mode == "b64":
                    color = (len(body["prompt"]) % 256, len(outer.requests) % 256, 9)
                    data = base64.b64encode(png_bytes(color)).decode()
                    self._send(200, json.dumps({"data": [{"b64_json": data}]}).encode())
                elif outer.mode == "url":
                    url = f"http://127.0.0.1:{outer.port}/files/1.png"
                    self._send(200, json.dumps({"data": [{"url": url}]}).encode())
                elif outer.mode == "500":
                    self._send(500, b'{"error": {"message": "model overloaded"}}')
                elif outer.mode == "slow":
                    time.sleep(1.5)
                    self._send(200, b'{"data": []}')
                elif outer.mode == "garbage":
                    self._send(200, b"<html>not json</html>", "text/html")
                elif outer.mode == "empty":
                    self._send(200, b'{"data": []}')
                elif outer.mode == "badb64":
                    self._send(200, b'{"data": [{"b64_json": "***not base64***"}]}')

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ImageServer]:
    srv = ImageServer()
    yield srv
    srv.close()


def test_b64_json_response_and_api_key_from_env(
    server: ImageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_IMAGES_KEY", "sk-test-123")
    gen = OpenAIImagesGenerator(server.base_url, "img-model", api_key_env="TEST_IMAGES_KEY")
    out = gen.generate("a red cube")
    assert out.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert server.requests[0]["model"] == "img-model"
    assert server.requests[0]["prompt"] == "a red cube"
    assert server.auth == ["Bearer sk-test-123"]


def test_url_response_is_fetched(server: ImageServer) -> None:
    server.mode = "url"
    out = OpenAIImagesGenerator(server.base_url, "m", api_key_env=None).generate("x")
    assert out.data[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("500", 'HTTP 500: {"error": {"message": "model overloaded"}}'),
        ("garbage", "non-JSON"),
        ("empty", "without a 'data' list"),
        ("badb64", "not valid base64"),
    ],
)
def test_upstream_failures_are_clear(server: ImageServer, mode: str, message: str) -> None:
    server.mode = mode
    with pytest.raises(UpstreamError) as exc:
        OpenAIImagesGenerator(server.base_url, "m", api_key_env=None).generate("x")
    assert message in exc.value.message and exc.value.status_code == 502


def test_timeout_is_an_upstream_error(server: ImageServer) -> None:
    server.mode = "slow"
    gen = OpenAIImagesGenerator(server.base_url, "m", api_key_env=None, timeout=0.3)
    with pytest.raises(UpstreamError, match=r"timed out after 0\.3 s"):
        gen.generate("x")


def test_connection_refused_is_an_upstream_error() -> None:
    gen = OpenAIImagesGenerator("http://127.0.0.1:9/v1", "m", api_key_env=None, timeout=2)
    with pytest.raises(UpstreamError, match="failed"):
        gen.generate("x")


def test_missing_api_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    gen = OpenAIImagesGenerator("http://127.0.0.1:9/v1", "m", api_key_env="NO_SUCH_KEY_VAR")
    with pytest.raises(ConfigError, match="NO_SUCH_KEY_VAR"):
        gen.generate("x")


def test_python_generator_normalises_results_and_errors() -> None:
    from PIL import Image

    assert PythonGenerator(lambda p: p.upper()).generate("abc").data == b"ABC"
    img = PythonGenerator(lambda p: Image.new("RGB", (4, 4))).generate("x").data
    assert img[:4] == b"\x89PNG"

    def broken(prompt: str) -> bytes:
        raise RuntimeError("CUDA out of memory")

    with pytest.raises(UpstreamError, match="CUDA out of memory"):
        PythonGenerator(broken, name="broken").generate("x")
    with pytest.raises(UpstreamError, match="returned int"):
        PythonGenerator(lambda p: 42).generate("x")
    with pytest.raises(UpstreamError, match="timed out"):
        PythonGenerator(lambda p: time.sleep(1.0) or b"", timeout=0.2).generate("x")


@pytest.fixture
def live(store: Store) -> LiveGenerators:
    """The store's live generators (the service layer that opens typed-prompt battles)."""
    return LiveGenerators(store)


def test_typed_prompt_battle_generates_once_and_caches(
    store: Store, live: LiveGenerators, clock: TestClock, server: ImageServer
) -> None:
    store.catalog.create_arena(slug="live", k=3)
    calls: list[str] = []

    def local_model(prompt: str) -> bytes:
        calls.append(prompt)
        return png_bytes((len(calls) * 30 % 256, 1, 1))

    store.catalog.add_model(arena="live", name="local")
    live.register_generator(arena="live", model="local", generator=PythonGenerator(local_model))
    for name in ("remote-a", "remote-b"):
        live.add_model(
            arena="live", name=name,
            generator={"kind": "openai-images", "base_url": server.base_url, "model": name},
        )  # fmt: skip
    store.catalog.add_model(arena="live", name="gallery-only")
    battle = live.create_battle(arena="live", prompt_text="  a <b>blue</b> sphere  ", seed=1)
    assert battle.prompt_text == "a <b>blue</b> sphere" and battle.k == 3
    assert calls == ["a <b>blue</b> sphere"] and len(server.requests) == 2
    clock.advance(5)
    result = store.voting.submit_vote(token=battle.token, mode="best", winner=0, voter_id="u")
    assert {c.model_name for c in result.contestants} == {"local", "remote-a", "remote-b"}
    # The same prompt again is served from the cache: no new generation.
    live.create_battle(arena="live", prompt_text="a <b>blue</b> sphere", seed=2)
    assert len(calls) == 1 and len(server.requests) == 2


def test_typed_prompt_needs_k_live_models(store: Store, live: LiveGenerators) -> None:
    store.catalog.create_arena(slug="live", k=2)
    live.add_model(
        arena="live",
        name="only-one",
        generator={"kind": "openai-images", "base_url": "http://127.0.0.1:9/v1", "model": "x"},
    )
    store.catalog.add_model(arena="live", name="no-generator")
    with pytest.raises(Conflict, match="live generator"):  # 409 (R-SCHEMA-12)
        live.create_battle(arena="live", prompt_text="hello")


def test_failed_generation_creates_no_battle(
    store: Store, live: LiveGenerators, server: ImageServer
) -> None:
    server.mode = "500"
    store.catalog.create_arena(slug="live", k=2)
    for name in ("a", "b"):
        live.add_model(
            arena="live",
            name=name,
            generator={
                "kind": "openai-images",
                "base_url": server.base_url,
                "model": name,
                "api_key_env": "",
            },
        )
    with pytest.raises(UpstreamError):
        live.create_battle(arena="live", prompt_text="hello")
    assert store.catalog.find_output(arena="live", model="a", prompt_key="x") is None


def test_bad_generator_configs_are_refused(store: Store, live: LiveGenerators) -> None:
    store.catalog.create_arena(slug="live", k=2)
    for config in (
        {"kind": "shell", "cmd": "rm -rf /"},
        {"kind": "openai-images"},
        {"kind": "openai-images", "base_url": "file:///etc", "model": "m"},
    ):
        with pytest.raises(InvalidInput):
            live.add_model(arena="live", name="x", generator=config)
