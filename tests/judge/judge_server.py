"""A real OpenAI-compatible judge on 127.0.0.1 for the tests: it ranks images by a hidden quality.

Each image's quality is its mean red value. The server adds Gaussian noise of ``noise`` (red
units) and answers in the strict format. Every answer is a pure function of the request's images
and number of messages (a seeded hash), so an evaluation that is killed and resumed meets exactly
the answers an uninterrupted one met. Faults (429 with Retry-After, 500, slow or timed-out
replies, malformed or empty replies) are drawn with the given probabilities per attempt.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image, ImageStat

MALFORMED = (
    "I think the second image is the best one.",
    "Image 3, Image 3, Image 1, Image 2, Image 4",
    "Image 1, Image 2, Image 3",
    "Image 7, Image 1, Image 2, Image 3, Image 4",
    "",
    "<think>Let me compare the images carefully",
)


def quality_image(red: float, size: int = 12) -> bytes:
    """A small JPEG whose red channel carries the hidden quality (0-255)."""
    buf = io.BytesIO()
    value = round(min(max(red, 0.0), 255.0))
    Image.new("RGB", (size, size), (value, 90, 160)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def quality_clip(red: float, frames: int = 12, size: int = 12) -> bytes:
    """An animated GIF whose frames' mean red is the hidden quality (they flicker around it)."""
    value = min(max(red, 12.0), 243.0)
    images = [
        Image.new("RGB", (size, size), (round(value + (10 if i % 2 else -10)), 90, 160))
        for i in range(frames)
    ]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=40)
    return buf.getvalue()


def read_quality(data: bytes) -> float:
    with Image.open(io.BytesIO(data)) as im:
        return float(ImageStat.Stat(im.convert("RGB").getchannel("R")).mean[0])


@dataclass
class Behaviour:
    """Noise and fault probabilities of the judge."""

    noise: float = 0.0
    p_malformed: float = 0.0
    p_429: float = 0.0
    p_500: float = 0.0
    p_timeout: float = 0.0
    p_slow: float = 0.0
    slow_seconds: float = 0.05
    timeout_seconds: float = 2.0
    delay: float = 0.0
    always: str | None = None  # "429", "500", "malformed", "bad_json", "401"
    prose: bool = False  # wrap good answers in markdown and prose
    label: str = "Image"
    generated_red: float = 134.0  # what /v1/images/generations draws (quality 24 on the test scale)


@dataclass
class ServerLog:
    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    good: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: Counter[str] = field(default_factory=Counter)


def _images(body: dict) -> list[list[bytes]]:
    """The request's outputs, each a list of images: a caption such as "Video 2:" starts an
    output and the images after it (a video's frames) belong to it; uncaptioned images stand alone.
    """
    groups: list[list[bytes]] = []
    open_group = False
    for message in body.get("messages", []):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and re.fullmatch(r"\w+ \d+:", part.get("text", "")):
                groups.append([])
                open_group = True
            elif part.get("type") == "image_url":
                data = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
                if open_group:
                    groups[-1].append(data)
                else:
                    groups.append([data])
    return [g for g in groups if g]


def _draw(key: str, purpose: str) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256(f"{key}|{purpose}".encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def _reply(self, content: str) -> None:
        body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
        self._send(200, json.dumps(body).encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        if self.path.rstrip("/") == "/v1/images/generations":
            image = quality_image(self.server.behaviour.generated_red)
            payload = {"data": [{"b64_json": base64.b64encode(image).decode()}]}
            self._send(200, json.dumps(payload).encode())
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, b'{"error": "not found"}')
            return
        b, log = self.server.behaviour, self.server.log
        images = _images(body)
        flat = b"".join(b"".join(g) for g in images)
        key = hashlib.sha256(flat + str(len(body["messages"])).encode()).hexdigest()
        with log.lock:
            log.requests += 1
            attempt = log.attempts[key]
            log.attempts[key] += 1
        if b.delay:
            time.sleep(b.delay)
        fault = _draw(key, f"fault{attempt}").random()
        always = b.always
        if always == "401":
            self._send(401, b'{"error": "bad key"}')
            return
        if always == "429" or fault < b.p_429:
            with log.lock:
                log.faults["429"] += 1
            self._send(429, b'{"error": "slow down"}', {"Retry-After": "0.01"})
            return
        if always == "500" or fault < b.p_429 + b.p_500:
            with log.lock:
                log.faults["500"] += 1
            self._send(500, b'{"error": "boom"}')
            return
        if fault < b.p_429 + b.p_500 + b.p_timeout:
            with log.lock:
                log.faults["timeout"] += 1
            time.sleep(b.timeout_seconds)
            self._reply("Image 1, Image 2")
            return
        if fault < b.p_429 + b.p_500 + b.p_timeout + b.p_slow:
            with log.lock:
                log.faults["slow"] += 1
            time.sleep(b.slow_seconds)
        if always == "bad_json":
            self._send(200, b"this is not json")
            return
        rng = _draw(key, "answer")
        if always == "malformed" or rng.random() < b.p_malformed:
            with log.lock:
                log.faults["malformed"] += 1
            self._reply(MALFORMED[int(rng.integers(len(MALFORMED)))])
            return
        seen = [
            float(np.mean([read_quality(img) for img in group])) + rng.normal(0.0, b.noise)
            for group in images
        ]
        order = sorted(range(len(images)), key=lambda i: -seen[i])
        answer = ", ".join(f"{b.label} {i + 1}" for i in order)
        if b.prose:
            answer = f"Here is my ranking:\n\n**{answer}**\n\nThe first image is sharpest."
        with log.lock:
            log.good += 1
        self._reply(answer)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Behaviour
    log: ServerLog


@contextmanager
def judge_server(behaviour: Behaviour | None = None) -> Iterator[tuple[str, ServerLog]]:
    """Serve the judge on a random local port; yields (base_url, log)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.behaviour = behaviour if behaviour is not None else Behaviour()
    server.log = ServerLog()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.log
    finally:
        server.shutdown()
        server.server_close()
