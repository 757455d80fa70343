"""A live generator for Replicate-style prediction APIs: create a prediction, poll until done.

``POST {base_url}/models/{model}/predictions`` with ``{"input": {"prompt": ..., ...}}`` (or
``POST {base_url}/predictions`` with ``{"version": ..., "input": ...}`` when a version is
pinned) answers a prediction ``{"id", "status", "urls": {"get": ...}, "output", "error"}``.
The prediction is read again every ``poll_interval`` seconds until its status is
``succeeded`` (its ``output``, a URL or a list of URLs, is downloaded), ``failed`` or
``canceled`` (an UpstreamError quoting its ``error``), or until ``timeout`` has passed.
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

__all__ = ["ReplicateGenerator"]


@dataclass(frozen=True, slots=True)
class ReplicateGenerator:
    """``model`` is ``owner/name``; ``version`` (optional) pins a model version."""

    base_url: str
    model: str
    api_key_env: str | None = "REPLICATE_API_TOKEN"
    version: str | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 300.0
    poll_interval: float = 1.0
    policy: HttpPolicy = field(default_factory=HttpPolicy)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def generate(self, prompt: str) -> GeneratedOutput:
        """Create a prediction, poll it, download its first output."""
        key = api_key(self.api_key_env, "the Replicate endpoint")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        base = self.base_url.rstrip("/")
        body: dict[str, Any] = {"input": {"prompt": prompt, **dict(self.inputs)}}
        if self.version:
            url, body["version"] = f"{base}/predictions", self.version
        else:
            url = f"{base}/models/{self.model}/predictions"
        what = "Replicate endpoint"
        deadline = time.monotonic() + self.timeout
        client = shared_client(self._clients, self.policy.timeout)
        resp = send(
            client,
            "POST",
            url,
            what=what,
            policy=self.policy,
            secret=key,
            headers=headers,
            json=body,
        )
        pred = json_body(resp, what, key)
        while True:
            status = pred.get("status")
            if status == "succeeded":
                data = download(client, _first(pred.get("output")), what=what, policy=self.policy)
                meta = {"generator": "replicate", "prediction": str(pred.get("id", ""))}
                return GeneratedOutput(data, meta)
            if status in ("failed", "canceled"):
                raise UpstreamError(
                    f"{what} prediction {pred.get('id')} {status}: "
                    f"{str(pred.get('error') or 'no reason given')[:200]}",
                    detail={"retryable": False},
                )
            if status not in ("starting", "processing"):
                raise UpstreamError(f"{what} answered an unknown status {str(status)[:40]!r}")
            if time.monotonic() >= deadline:
                raise UpstreamError(
                    f"{what} prediction {pred.get('id')} not done after {self.timeout:g} s",
                    detail={"retryable": True},
                )
            time.sleep(self.poll_interval)
            get_url = _poll_url(pred, base)
            same_host = urlsplit(get_url).netloc == urlsplit(base).netloc
            resp = send(
                client,
                "GET",
                get_url,
                what=what,
                policy=self.policy,
                secret=key,
                headers=headers if same_host else {},
            )
            pred = json_body(resp, what, key)


def _first(output: object) -> object:
    if isinstance(output, list):
        return output[0] if output else None
    return output


def _poll_url(pred: Mapping[str, Any], base: str) -> str:
    urls = pred.get("urls")
    if isinstance(urls, dict) and isinstance(urls.get("get"), str):
        return str(urls["get"])
    if not isinstance(pred.get("id"), str):
        raise UpstreamError("Replicate endpoint answered a prediction without an id")
    return f"{base}/predictions/{pred['id']}"
