"""One local HTTP server on 127.0.0.1 that speaks four providers' image protocols.

- OpenAI-compatible: ``POST /v1/images/generations`` -> ``{"data": [{"b64_json"}]}``;
- Replicate-style: ``POST /replicate/models/{owner}/{name}/predictions`` -> a prediction that
  ``GET /replicate/predictions/{id}`` reports ``starting``, ``processing``, then ``succeeded``
  with an output URL (``/files/{id}.png``), or ``failed`` for a prompt containing "forbidden";
- fal-style queue: ``POST /fal/{app}`` -> ``{request_id, status_url, response_url}``; the status
  goes ``IN_QUEUE``, ``IN_PROGRESS``, ``COMPLETED``; the response holds ``images[0].url``;
- Hugging Face Inference-style: ``POST /hf/models/{repo}`` -> the PNG bytes (a 400 for a
  prompt containing "forbidden").

A test sets ``fail_next`` (HTTP statuses answered to the next submissions, before any work),
``delay`` (seconds each submission takes), ``key`` (the key every request must carry; a wrong
one gets a 401 whose body echoes it, to check callers blank it out). ``submissions`` counts
the work each provider was asked to do, by prompt. Run as a script it serves until killed and
prints its port (the ``karena generate`` kill test uses it from another process).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def png_for(prompt: str) -> bytes:
    """A 16x16 PNG whose colour depends on the prompt."""
    from PIL import Image

    digest = hashlib.sha256(prompt.encode()).digest()
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (digest[0], digest[1], digest[2])).save(buf, format="PNG")
    return buf.getvalue()


class ProviderServer:
    """The fake providers; ``base`` is ``http://127.0.0.1:PORT``."""

    def __init__(self, port: int = 0, delay: float = 0.0) -> None:
        self.fail_next: list[int] = []
        self.delay = delay
        self.key: str | None = None
        self.polls_before_done = 2
        self.submissions: Counter[str] = Counter()
        self.auth: list[str | None] = []
        self._predictions: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, payload: object) -> None:
                self._send(status, json.dumps(payload).encode())

            def _authorised(self) -> bool:
                got = self.headers.get("Authorization")
                outer.auth.append(got)
                if outer.key is None or (got or "").endswith(" " + outer.key):
                    return True
                self._json(401, {"detail": f"invalid credentials: {got}"})
                return False

            def do_GET(self) -> None:
                outer.handle_get(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.handle_post(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- protocol -----------------------------------------------------------------------------

    def _injected(self) -> int | None:
        with self._lock:
            return self.fail_next.pop(0) if self.fail_next else None

    def handle_post(self, h: Any, body: dict[str, Any]) -> None:
        if not h._authorised():
            return
        status = self._injected()
        if status is not None:
            h._json(status, {"error": f"injected HTTP {status}"})
            return
        path = h.path
        nested = body.get("input", {}).get("prompt")
        prompt = str(body.get("prompt") or body.get("inputs") or nested)
        with self._lock:
            self.submissions[prompt] += 1
        if path == "/v1/images/generations":
            time.sleep(self.delay)
            data = base64.b64encode(png_for(prompt)).decode()
            h._json(200, {"data": [{"b64_json": data}]})
        elif path.startswith("/replicate/models/") and path.endswith("/predictions"):
            pid = hashlib.sha256(f"{prompt}{time.time_ns()}".encode()).hexdigest()[:12]
            pred = {"id": pid, "status": "starting", "prompt": prompt, "polls": 0,
                    "started": time.monotonic(),
                    "urls": {"get": f"{self.base}/replicate/predictions/{pid}"}}  # fmt: skip
            with self._lock:
                self._predictions[pid] = pred
            h._json(201, _public(pred))
        elif path.startswith("/fal/"):
            rid = hashlib.sha256(f"{prompt}{time.time_ns()}".encode()).hexdigest()[:12]
            with self._lock:
                self._predictions[rid] = {"id": rid, "prompt": prompt, "polls": 0,
                                          "started": time.monotonic()}  # fmt: skip
            app = path.removeprefix("/fal/")
            h._json(200, {
                "request_id": rid,
                "status_url": f"{self.base}/fal/{app}/requests/{rid}/status",
                "response_url": f"{self.base}/fal/{app}/requests/{rid}",
            })  # fmt: skip
        elif path.startswith("/hf/models/"):
            time.sleep(self.delay)
            if "forbidden" in prompt:
                h._json(400, {"error": "prompt refused by the safety filter"})
            else:
                h._send(200, png_for(prompt), "image/png")
        else:
            h._json(404, {"error": "no route"})

    def _advance(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            pred = self._predictions.get(key)
            if pred is not None:
                pred["polls"] += 1
            return pred

    def _done(self, pred: dict[str, Any]) -> bool:
        waited = time.monotonic() - pred["started"] >= self.delay
        return bool(pred["polls"] >= self.polls_before_done and waited)

    def handle_get(self, h: Any) -> None:
        path = h.path
        if path == "/stats":
            with self._lock:
                h._json(200, dict(self.submissions))
            return
        if path.startswith("/files/"):
            pid = path.removeprefix("/files/").removesuffix(".png")
            pred = self._predictions.get(pid)
            if pred is None:
                h._json(404, {"error": "no file"})
            else:
                h._send(200, png_for(pred["prompt"]), "image/png")
            return
        if not h._authorised():
            return
        if path.startswith("/replicate/predictions/"):
            pred = self._advance(path.rsplit("/", 1)[1])
            if pred is None:
                h._json(404, {"detail": "not found"})
                return
            if "forbidden" in pred["prompt"]:
                pred["status"], pred["error"] = "failed", "NSFW content detected"
            elif self._done(pred):
                pred["status"] = "succeeded"
                pred["output"] = [f"{self.base}/files/{pred['id']}.png"]
            else:
                pred["status"] = "processing"
            h._json(200, _public(pred))
        elif path.startswith("/fal/") and path.endswith("/status"):
            pred = self._advance(path.split("/requests/")[1].split("/")[0])
            if pred is None:
                h._json(404, {"detail": "not found"})
                return
            state = "IN_PROGRESS" if pred["polls"] > 1 else "IN_QUEUE"
            state = "COMPLETED" if self._done(pred) else state
            h._json(200, {"status": state})
        elif path.startswith("/fal/"):
            rid = path.rsplit("/", 1)[1]
            pred = self._predictions.get(rid)
            if pred is None:
                h._json(404, {"detail": "not found"})
            else:
                h._json(200, {"images": [{"url": f"{self.base}/files/{rid}.png"}]})
        else:
            h._json(404, {"error": "no route"})


def _public(pred: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in pred.items() if k not in ("prompt", "polls", "started")}


if __name__ == "__main__":  # serve until killed; print the port
    server = ProviderServer(delay=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0)
    print(server.port, flush=True)
    threading.Event().wait()
