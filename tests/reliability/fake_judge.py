"""A real OpenAI-compatible chat-completions server on 127.0.0.1 that misbehaves on purpose.

The judge it plays is noise-free: it decodes the images of a request (base64 data URLs), reads the
quality hidden in each image's red channel, and answers the true order in the strict format
``Image 3, Image 1, Image 2``. Before it answers well it can fail a request in any scripted
way: 429, 500, a reply slower than the client's timeout, a slow but good reply, malformed or empty
replies. Faults are keyed on the *set* of images in a request, so a client that retries (even with
the images re-shuffled) meets the faults in order and then a good answer, whatever the concurrency.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, ImageStat

#: Every way the server can fail one attempt.
FAULTS = (
    "429",
    "500",
    "503",
    "timeout",
    "slow",
    "malformed_prose",
    "malformed_duplicate",
    "malformed_out_of_range",
    "malformed_partial",
    "empty_body",
    "empty_choices",
    "empty_content",
    "not_json",
)


def quality_image(quality: int, fmt: str = "JPEG", size: tuple[int, int] = (24, 24)) -> bytes:
    """An image whose red channel encodes ``quality`` (0-250); JPEG rounding stays far below 10."""
    buf = io.BytesIO()
    Image.new("RGB", size, (int(quality), 128, 64)).save(buf, format=fmt, quality=95)
    return buf.getvalue()


def read_quality(data: bytes) -> float:
    """The hidden quality of an image made by :func:`quality_image` (or any image: its mean red)."""
    with Image.open(io.BytesIO(data)) as image:
        return float(ImageStat.Stat(image.convert("RGB").getchannel("R")).mean[0])


def _images_of(body: dict[str, object]) -> list[bytes]:
    """Decode every ``data:`` image URL in the chat messages, in order."""
    images: list[bytes] = []
    for message in body.get("messages", []) or []:  # type: ignore[union-attr]
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "image_url":
                continue
            url = part.get("image_url", {}).get("url", "")
            if isinstance(url, str) and url.startswith("data:") and "," in url:
                images.append(base64.b64decode(url.split(",", 1)[1]))
    return images


def true_order(images: Sequence[bytes]) -> list[int]:
    """1-based image numbers from best to worst by hidden quality (ties broken by position)."""
    qualities = [read_quality(image) for image in images]
    return sorted(range(1, len(images) + 1), key=lambda i: (-qualities[i - 1], i))


@dataclass
class JudgeLog:
    """What the server answered: per request key, the faults served and the good answers given."""

    requests: int = 0
    faults_served: Counter[str] = field(default_factory=Counter)
    good_answers: Counter[str] = field(default_factory=Counter)
    key_order: dict[str, int] = field(default_factory=dict)
    attempts: Counter[str] = field(default_factory=Counter)
    answers: list[tuple[str, list[int]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class JudgeBehaviour:
    """The script: ``faults`` are served, in order, to the first attempts of each distinct request.

    ``always`` replaces the good answer with that fault forever (a judge that never recovers).
    ``rotate`` gives the n-th distinct request (in order of arrival) the script
    ``rotate[n % len(rotate)]`` instead of ``faults``, so one run meets every fault once.
    """

    faults: tuple[str, ...] = ()
    rotate: tuple[tuple[str, ...], ...] = ()
    always: str | None = None
    timeout_sleep: float = 3.0
    slow_sleep: float = 0.3
    answer_delay: float = 0.0


def _reply(content: str | None) -> dict[str, object]:
    """A chat-completions response body carrying ``content``."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-judge",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class _Handler(BaseHTTPRequestHandler):
    server: FakeJudgeServer

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet; the JudgeLog records what matters."""

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == 429:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, obj: object) -> None:
        self._send(status, json.dumps(obj).encode())

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": "fake-judge"}]})
        else:
            self._send_json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": "not found"}})
            return
        body = json.loads(raw)
        images = _images_of(body)
        order = true_order(images)
        key = hashlib.sha256(
            b"".join(sorted(hashlib.sha256(i).digest() for i in images))
        ).hexdigest()
        behaviour = self.server.behaviour
        log = self.server.log
        with log.lock:
            log.requests += 1
            attempt = log.attempts[key]
            log.attempts[key] += 1
            index = log.key_order.setdefault(key, len(log.key_order))
        script = (
            behaviour.rotate[index % len(behaviour.rotate)]
            if behaviour.rotate
            else behaviour.faults
        )
        fault = behaviour.always
        if fault is None and attempt < len(script):
            fault = script[attempt]
        if fault is not None:
            with log.lock:
                log.faults_served[fault] += 1
            self._serve_fault(fault, order)
            return
        if behaviour.answer_delay > 0:
            time.sleep(behaviour.answer_delay)
        with log.lock:
            log.good_answers[key] += 1
            log.answers.append((key, order))
        self._send_json(200, _reply(", ".join(f"Image {i}" for i in order)))

    def _serve_fault(self, fault: str, order: list[int]) -> None:
        """Fail this attempt the way ``fault`` names."""
        behaviour = self.server.behaviour
        good = ", ".join(f"Image {i}" for i in order)
        n = len(order)
        if fault in ("429", "500", "503"):
            self._send_json(int(fault), {"error": {"message": f"injected {fault}"}})
        elif fault == "timeout":
            time.sleep(behaviour.timeout_sleep)  # the client has given up; the late answer is moot
            self._send_json(200, _reply(good))
        elif fault == "slow":
            time.sleep(behaviour.slow_sleep)
            self._send_json(200, _reply(good))
        elif fault == "malformed_prose":
            self._send_json(200, _reply("All of these images are lovely; I cannot choose."))
        elif fault == "malformed_duplicate":
            self._send_json(200, _reply(", ".join(f"Image {order[0]}" for _ in range(n))))
        elif fault == "malformed_out_of_range":
            self._send_json(200, _reply(", ".join(f"Image {i + n}" for i in order)))
        elif fault == "malformed_partial":
            self._send_json(200, _reply(", ".join(f"Image {i}" for i in order[:-1])))
        elif fault == "empty_body":
            self._send(200, b"")
        elif fault == "empty_choices":
            self._send_json(200, {"id": "x", "object": "chat.completion", "choices": []})
        elif fault == "empty_content":
            self._send_json(200, _reply(""))
        elif fault == "not_json":
            self._send(200, b"<html>502 Bad Gateway</html>", content_type="text/html")
        else:
            raise ValueError(f"unknown fault {fault!r}")


class FakeJudgeServer(ThreadingHTTPServer):
    """The threaded server; ``behaviour`` may be swapped between runs."""

    daemon_threads = True

    def __init__(self, behaviour: JudgeBehaviour) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.log = JudgeLog()

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (``.../v1``)."""
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def fake_judge(behaviour: JudgeBehaviour | None = None) -> Iterator[FakeJudgeServer]:
    """Serve a fake judge in a background thread for the duration of the block."""
    server = FakeJudgeServer(behaviour if behaviour is not None else JudgeBehaviour())
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
