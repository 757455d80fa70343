"""The OpenAI-compatible chat-completions judge backend, with retries and re-asking.

:class:`JudgeClient` is one :class:`~karena.judge.backends.JudgeBackend`: it turns a request's
outputs into content parts (images as data URLs, videos as frames or whole clips), asks for a
strict ranking and reads the reply.

Works with any endpoint that takes ``image_url`` content parts: OpenAI, vLLM, Ollama's ``/v1``,
DashScope's compatible mode. Two separate budgets guard one verdict:

* transport: 429, any 5xx, timeouts and connection errors are retried up to ``max_retries``
  times with exponential backoff and full jitter (``Retry-After`` is honoured, capped at
  :data:`MAX_RETRY_AFTER`); other 4xx answers fail at once, since repeating them cannot help;
* parsing: a reply that is not one unambiguous ranking (including an empty or malformed body)
  is asked again, up to ``parse_retries`` times, telling the judge what was wrong. When that runs
  out :class:`~karena.judge.parsing.UnparseableReply` is raised and the caller skips the run.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from karena.errors import ConfigError
from karena.judge.backends import JudgeRequest, JudgeUnavailable, Verdict
from karena.judge.media import DEFAULT_FRAMES, VideoMode, content_parts
from karena.judge.parsing import UnparseableReply, format_example, parse_ranking
from karena.settings import Settings

__all__ = ["MAX_RETRY_AFTER", "JudgeClient", "JudgeUnavailable", "Verdict"]

#: The longest ``Retry-After`` we wait, in seconds; longer asks are cut to this.
MAX_RETRY_AFTER = 60.0


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value.strip() else None
        if parsed is None:
            return None
        seconds = parsed.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class JudgeClient:
    """Ask a VLM to rank outputs; see the module docstring for the retry policy."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        concurrency: int = 4,
        max_retries: int = 5,
        parse_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        temperature: float | None = 0.0,
        video_mode: VideoMode = "auto",
        frames: int = DEFAULT_FRAMES,
        rng: np.random.Generator | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigError("judge concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_retries = max_retries
        self.parse_retries = parse_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.temperature = temperature
        self.video_mode: VideoMode = video_mode
        self.frames = frames
        self._rng = rng if rng is not None else np.random.default_rng()
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout
        self._concurrency = concurrency
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._sem: asyncio.Semaphore | None = None
        self.requests_sent = 0
        self.transport_retries = 0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> JudgeClient:
        """Build from ``Settings``; the API key is read from the variable it names."""
        key = os.environ.get(settings.judge_api_key_env) or None
        kwargs: dict[str, Any] = {
            "base_url": settings.judge_base_url,
            "model": settings.judge_model,
            "api_key": key,
            "timeout": settings.judge_timeout_seconds,
            "concurrency": settings.judge_concurrency,
            "max_retries": settings.judge_max_retries,
            "parse_retries": settings.judge_max_retries,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    @property
    def name(self) -> str:
        return self.model

    async def __aenter__(self) -> JudgeClient:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self._timeout), headers=self._headers, transport=self._transport
        )
        self._sem = asyncio.Semaphore(self._concurrency)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0**attempt)
        jittered = float(self._rng.uniform(0.0, ceiling))
        return max(jittered, retry_after) if retry_after is not None else jittered

    async def _post(self, payload: dict[str, Any]) -> str | None:
        """One completion's text, retrying transport failures; ``None`` for a malformed body."""
        assert self._client is not None and self._sem is not None, "use 'async with JudgeClient'"
        url = f"{self.base_url}/chat/completions"
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                async with self._sem:
                    self.requests_sent += 1
                    resp = await self._client.post(url, json=payload)
            except httpx.TimeoutException:
                last = f"timed out after {self._timeout:g}s"
            except httpx.TransportError as exc:
                last = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                if resp.status_code == 200:
                    return _reply_text(resp)
                last = f"HTTP {resp.status_code}: {resp.text[:200]!r}"
                if resp.status_code != 429 and resp.status_code < 500:
                    hint = " (check the API key)" if resp.status_code in (401, 403) else ""
                    raise JudgeUnavailable(f"the judge refused the request: {last}{hint}")
                retry_after = _retry_after(resp.headers.get("retry-after"))
            if attempt < self.max_retries:
                self.transport_retries += 1
                await asyncio.sleep(self._delay(attempt, retry_after))
        raise JudgeUnavailable(
            f"the judge at {self.base_url} failed {self.max_retries + 1} times; last: {last}"
        )

    async def rank(self, request: JudgeRequest) -> Verdict:
        """Ask for a ranking of the request's outputs (in display order)."""
        label = request.label
        outputs = [
            content_parts(m, f"{label} {pos + 1}", self.video_mode, self.frames)
            for pos, m in enumerate(request.outputs)
        ]
        return await self.rank_parts(request.instruction, outputs, label)

    async def rank_parts(
        self, instruction: str, outputs: Sequence[list[dict[str, object]]], label: str = "Image"
    ) -> Verdict:
        """Ask for a ranking of ``outputs`` (content parts per output, in display order)."""
        n = len(outputs)
        user: list[dict[str, object]] = [
            {"type": "text", "text": f"Here are the {n} {label.lower()}s:"}
        ]
        for parts in outputs:
            user.extend(parts)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": instruction},
            {"role": "user", "content": user},
        ]
        rejected: list[str] = []
        requests = 0
        for _ in range(self.parse_retries + 1):
            payload: dict[str, Any] = {"model": self.model, "messages": messages}
            if self.temperature is not None:
                payload["temperature"] = self.temperature
            before = self.requests_sent
            text = await self._post(payload)
            requests += self.requests_sent - before
            try:
                if text is None:
                    raise UnparseableReply("the judge's response body was not a chat completion")
                order = parse_ranking(text, n)
            except UnparseableReply as exc:
                rejected.append(f"{exc.message} | reply: {(text or '')[:300]!r}")
                retry_note = (
                    f"Your answer could not be read ({exc.message})."
                    f" Reply with only the ranking, e.g. {format_example(n, label)}."
                )
                messages = [
                    *messages[:2],
                    {"role": "assistant", "content": text or ""},
                    {"role": "user", "content": retry_note},
                ]
                continue
            return Verdict(order, text, requests, tuple(rejected))
        raise UnparseableReply(
            f"no readable ranking after {self.parse_retries + 1} replies", detail=rejected
        )


def _reply_text(resp: httpx.Response) -> str | None:
    try:
        body = resp.json()
        content = body["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    if isinstance(content, list):  # some servers return content parts
        texts = [p.get("text", "") for p in content if isinstance(p, dict)]
        content = "".join(t for t in texts if isinstance(t, str))
    return content if isinstance(content, str) else None
