"""A live generator that calls an OpenAI-compatible ``/images/generations`` endpoint."""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from typing import Any

from karena.errors import ConfigError, UpstreamError
from karena.generators.base import GeneratedOutput
from karena.generators.http import snippet

__all__ = ["OpenAIImagesGenerator"]

#: Largest image accepted from an endpoint (bytes), whatever the upload limit says.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class OpenAIImagesGenerator:
    """POST ``{base_url}/images/generations`` and return the first image (``b64_json`` or ``url``).

    The API key is read at call time from the environment variable named ``api_key_env`` so that
    it never sits in the database or in settings files.
    """

    base_url: str
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"
    size: str | None = "1024x1024"
    timeout: float = 60.0
    extra: tuple[tuple[str, Any], ...] = ()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise ConfigError(
                    f"environment variable {self.api_key_env} (the image endpoint's API key) is "
                    "not set"
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def generate(self, prompt: str) -> GeneratedOutput:
        """Generate one image; UpstreamError with a one-line reason on any failure."""
        import httpx

        url = self.base_url.rstrip("/") + "/images/generations"
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "n": 1,
            "response_format": "b64_json",
        }
        if self.size:
            body["size"] = self.size
        body.update(dict(self.extra))
        headers = self._headers()
        key = headers.get("Authorization", "").removeprefix("Bearer ") or None
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                resp = client.post(url, json=body, headers=headers)
                if resp.status_code >= 400:
                    raise UpstreamError(
                        f"image endpoint {url} answered HTTP {resp.status_code}: "
                        f"{snippet(resp.text, key)}",
                        detail={"status": resp.status_code, "retryable": resp.status_code >= 500},
                    )
                data = _first_item(resp)
                if data.get("b64_json"):
                    raw = _decode_b64(data["b64_json"])
                    return GeneratedOutput(raw, {"generator": "openai-images"})
                if data.get("url"):
                    img = client.get(str(data["url"]))
                    if img.status_code >= 400:
                        raise UpstreamError(f"image URL from {url} answered HTTP {img.status_code}")
                    if len(img.content) > MAX_RESPONSE_BYTES:
                        raise UpstreamError(f"image from {url} is larger than {MAX_RESPONSE_BYTES}")
                    return GeneratedOutput(img.content, {"generator": "openai-images"})
                raise UpstreamError(f"image endpoint {url} returned neither b64_json nor url")
        except httpx.TimeoutException:
            raise UpstreamError(
                f"image endpoint {url} timed out after {self.timeout:g} s",
                detail={"retryable": True},
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"image endpoint {url} failed: {type(exc).__name__}: {exc}",
                detail={"retryable": True},
            ) from None


def _first_item(resp: Any) -> dict[str, Any]:
    try:
        payload = resp.json()
    except ValueError:
        raise UpstreamError(f"image endpoint answered non-JSON: {snippet(resp.text)}") from None
    items = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise UpstreamError("image endpoint answered without a 'data' list of images")
    return items[0]


def _decode_b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise UpstreamError("image endpoint's b64_json is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise UpstreamError("image endpoint's b64_json is not valid base64") from None
