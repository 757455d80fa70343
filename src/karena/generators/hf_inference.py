"""A live generator for Hugging Face Inference-style text-to-image: one POST returns the bytes.

``POST {base_url}/models/{model}`` with ``{"inputs": prompt, "parameters": {...}}`` answers the
image itself (``image/png``, ``image/jpeg``...). A model that is still loading answers 503,
which is retried; an answer in JSON is the endpoint's error and is quoted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from karena.errors import UpstreamError
from karena.generators.base import GeneratedOutput
from karena.generators.http import (
    MAX_RESPONSE_BYTES,
    HttpPolicy,
    api_key,
    send,
    shared_client,
    snippet,
)

__all__ = ["HFInferenceGenerator"]


@dataclass(frozen=True, slots=True)
class HFInferenceGenerator:
    """``model`` is a repository id such as ``black-forest-labs/FLUX.1-schnell``."""

    base_url: str
    model: str
    api_key_env: str | None = "HF_TOKEN"
    parameters: Mapping[str, Any] = field(default_factory=dict)
    policy: HttpPolicy = field(default_factory=HttpPolicy)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def generate(self, prompt: str) -> GeneratedOutput:
        """POST the prompt and return the bytes of the answer."""
        key = api_key(self.api_key_env, "the Hugging Face Inference endpoint")
        headers = {"Accept": "image/png"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = f"{self.base_url.rstrip('/')}/models/{self.model}"
        body: dict[str, Any] = {"inputs": prompt}
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        what = "Hugging Face Inference endpoint"
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
        ctype = resp.headers.get("content-type", "")
        if ctype.startswith("application/json") or ctype.startswith("text/"):
            raise UpstreamError(
                f"{what} {url} answered {ctype.split(';')[0]}, not media: "
                f"{snippet(resp.text, key)}",
                detail={"retryable": False},
            )
        if len(resp.content) > MAX_RESPONSE_BYTES:
            raise UpstreamError(f"output from {what} is larger than {MAX_RESPONSE_BYTES} bytes")
        return GeneratedOutput(bytes(resp.content), {"generator": "hf-inference"})
