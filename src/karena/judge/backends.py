"""The judge seam: what the loop asks, what a judge answers, and a judge that is a Python callable.

A judge backend is anything with ``name``, ``requests_sent``, ``async with`` and
``async rank(request) -> Verdict`` (:class:`JudgeBackend`). Two are built in:

* :class:`karena.judge.client.JudgeClient`: a VLM behind an OpenAI-compatible chat-completions
  endpoint (OpenAI, vLLM, Ollama, DashScope), with retries and re-asking;
* :class:`CallableJudge`: a local Python function that is given the prompt and the K+1 outputs'
  bytes in display order and returns their order, best first (a local model, a scoring metric,
  a rule). It runs in a worker thread, so a slow function does not block the loop.

A reply that cannot be read raises :class:`~karena.judge.parsing.UnparseableReply` and the run is
skipped; a judge that cannot be reached raises :class:`JudgeUnavailable` and the evaluation stops,
resumably. The evaluator knows nothing else about a backend.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from karena.errors import InvalidInput, KarenaError, UpstreamError
from karena.judge.media import Media
from karena.judge.parsing import UnparseableReply

__all__ = [
    "CallableJudge",
    "JudgeBackend",
    "JudgeRequest",
    "JudgeUnavailable",
    "Verdict",
    "load_judge_callable",
]


class JudgeUnavailable(UpstreamError):
    """The judge kept failing (429/5xx/timeouts), refused the request, or raised."""

    code = "judge_unavailable"


@dataclass(frozen=True, slots=True)
class JudgeRequest:
    """One run's question: the prompt, the rule-augmented instruction and the K+1 outputs.

    ``outputs`` are in display order (after swapping); a verdict's ``order`` indexes them.
    """

    prompt: str
    instruction: str
    outputs: tuple[Media, ...]
    label: str = "Image"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One parsed judge answer: display positions best first, and how it was obtained."""

    order: tuple[int, ...]
    reply: str
    requests: int
    rejected_replies: tuple[str, ...] = field(default_factory=tuple)


class JudgeBackend(Protocol):
    """A judge: ranks the K+1 outputs of a request. See the module docstring."""

    @property
    def name(self) -> str:
        """How reports and the journal header name this judge."""
        ...

    @property
    def requests_sent(self) -> int:
        """Calls made so far (HTTP requests, or function calls)."""
        ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def rank(self, request: JudgeRequest) -> Verdict:
        """The outputs' order, best first, as display positions 0..K."""
        ...


RankFunction = Callable[[str, list[bytes]], Sequence[int]]


class CallableJudge:
    """A judge that is a local Python function ``fn(prompt, outputs) -> order``.

    ``outputs`` is the list of the K+1 outputs' bytes (as stored: JPEG, PNG, WebP, GIF or video)
    in display order; the function returns the positions 0..K best first. A result that is not
    such a permutation is an unreadable reply (the run is skipped); an exception from the function
    stops the evaluation resumably, as an unreachable endpoint would.
    """

    def __init__(self, fn: RankFunction, name: str = "callable", concurrency: int = 1) -> None:
        if concurrency < 1:
            raise InvalidInput("judge concurrency must be at least 1")
        self.fn = fn
        self._name = name
        self._sem = asyncio.Semaphore(concurrency)
        self._calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def requests_sent(self) -> int:
        return self._calls

    async def __aenter__(self) -> CallableJudge:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def rank(self, request: JudgeRequest) -> Verdict:
        n = len(request.outputs)
        data = [m.data for m in request.outputs]
        async with self._sem:
            self._calls += 1
            try:
                result = await asyncio.to_thread(self.fn, request.prompt, data)
            except KarenaError:
                raise
            except Exception as exc:  # a user's function may raise anything
                raise JudgeUnavailable(
                    f"judge {self._name} failed: {type(exc).__name__}: {exc}"
                ) from exc
        try:
            order = tuple(int(i) for i in result)
        except (TypeError, ValueError):
            order = ()
        if sorted(order) != list(range(n)):
            raise UnparseableReply(
                f"judge {self._name} returned {result!r}, not an order of 0..{n - 1}",
                detail=[repr(result)[:300]],
            )
        return Verdict(order, repr(list(order)), 1)


def load_judge_callable(spec: str) -> CallableJudge:
    """Import ``"package.module:attr"`` as a :class:`CallableJudge` (a function, or a class built
    without arguments whose instances are callable or have ``rank(prompt, outputs)``)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InvalidInput(f"judge must look like 'package.module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"cannot import {module_name!r}: {exc}") from exc
    obj = getattr(module, attr, None)
    if isinstance(obj, type):
        obj = obj()
    fn = getattr(obj, "rank", obj)
    if not callable(fn):
        raise InvalidInput(f"{spec!r} is neither a function nor an object with rank()")
    return CallableJudge(fn, name=f"python:{spec}")
