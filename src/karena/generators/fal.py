"""A live generator for fal-style queues: submit, poll the status, fetch the result.

``POST {base_url}/{model}`` with the input (``{"prompt": ..., ...}``) answers
``{"request_id", "status_url", "response_url"}``; ``GET status_url`` answers ``{"status":
"IN_QUEUE" | "IN_PROGRESS" | "COMPLETED"}`` and, once completed, ``GET response_url`` answers
the result, whose ``images[0].url`` (or ``image.url``, ``video.url``) is downloaded. The key
goes in ``Authorization: Key ...`` and only to the queue's own host.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from karena.errors import UpstreamError
from karena.generators.base import GeneratedOutput
from karena.generators.http import HttpPolicy, api_key, download, json_body, send, shared_client

__all__ = ["FalGenerator"]


@dataclass(frozen=True, slots=True)
class FalGenerator:
    """``model`` is the application id, e.g. ``fal-ai/flux/dev``."""

    base_url: str
    model: str
    api_key_env: str | None = "FAL_KEY"
    inputs: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 300.0
    poll_interval: float = 1.0
    policy: HttpPolicy = field(default_factory=HttpPolicy)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def generate(self, prompt: str) -> GeneratedOutput:
        """Submit to the queue, wait for COMPLETED, download the first image or video."""
        key = api_key(self.api_key_env, "the fal queue")
        base = self.base_url.rstrip("/")
        what = "fal queue"

        def headers_for(url: str) -> dict[str, str]:
            same_host = urlsplit(url).netloc == urlsplit(base).netloc
            return {"Authorization": f"Key {key}"} if key and same_host else {}

        deadline = time.monotonic() + self.timeout
        url = f"{base}/{self.model}"
        client = shared_client(self._clients, self.policy.timeout)
        resp = send(
            client,
            "POST",
            url,
            what=what,
            policy=self.policy,
            secret=key,
            headers=headers_for(url),
            json={"prompt": prompt, **dict(self.inputs)},
        )
        sub = json_body(resp, what, key)
        rid = sub.get("request_id")
        if not isinstance(rid, str):
            raise UpstreamError(f"{what} answered without a request_id")
        status_url = str(sub.get("status_url") or f"{url}/requests/{rid}/status")
        response_url = str(sub.get("response_url") or f"{url}/requests/{rid}")
        while True:
            resp = send(
                client,
                "GET",
                status_url,
                what=what,
                policy=self.policy,
                secret=key,
                headers=headers_for(status_url),
            )
            status = json_body(resp, what, key).get("status")
            if status == "COMPLETED":
                break
            if status not in ("IN_QUEUE", "IN_PROGRESS"):
                raise UpstreamError(
                    f"{what} request {rid} ended as {str(status)[:40]!r}",
                    detail={"retryable": False},
                )
            if time.monotonic() >= deadline:
                raise UpstreamError(
                    f"{what} request {rid} not done after {self.timeout:g} s",
                    detail={"retryable": True},
                )
            time.sleep(self.poll_interval)
        resp = send(
            client,
            "GET",
            response_url,
            what=what,
            policy=self.policy,
            secret=key,
            headers=headers_for(response_url),
        )
        result = json_body(resp, what, key)
        data = download(client, _output_url(result), what=what, policy=self.policy)
        return GeneratedOutput(data, {"generator": "fal", "request": rid})


def _output_url(result: Mapping[str, Any]) -> object:
    images = result.get("images")
    if isinstance(images, list) and images and isinstance(images[0], dict):
        return images[0].get("url")
    for name in ("image", "video"):
        item = result.get(name)
        if isinstance(item, dict):
            return item.get("url")
    raise UpstreamError("fal queue result has no images[0].url, image.url or video.url")
