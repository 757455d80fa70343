"""Filling an arena's gallery ahead of time: every (model, prompt) output a generator can make.

:func:`fill_gallery` runs each model's live generator (its stored config, or one attached in
this process) on each prompt that model has no output for yet, with at most ``concurrency``
calls in flight. Each output is stored the moment it arrives (the store writes the media file,
then commits its row), so a run that is killed loses only the calls in flight, and the next run
skips everything already stored: nothing is generated twice. A call that fails transiently
(``UpstreamError`` with ``detail["retryable"]``, or no detail) is retried after
``backoff * 2**attempt`` seconds, up to ``retries`` times; the rest are reported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from karena.errors import ConfigError, InvalidInput, KarenaError, UpstreamError
from karena.generators.base import Generator
from karena.generators.registry import build_generator
from karena.store.api import Store
from karena.store.types import PromptInfo

__all__ = ["GalleryFill", "GenerateFailure", "fill_gallery", "is_retryable", "with_retries"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class GenerateFailure:
    """One (model, prompt) that could not be generated, and why."""

    model: str
    prompt_key: str
    attempts: int
    error: str


@dataclass
class GalleryFill:
    """What a run did: outputs made, outputs found already stored, failures."""

    generated: int = 0
    skipped: int = 0
    failures: list[GenerateFailure] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the CLI."""
        return (
            f"{self.generated} outputs generated, {self.skipped} already stored, "
            f"{len(self.failures)} failed ({self.seconds:.1f} s)"
        )


def is_retryable(exc: KarenaError) -> bool:
    """A failure a later attempt may not repeat: an upstream error not marked permanent."""
    if not isinstance(exc, UpstreamError):
        return False
    detail = exc.detail if isinstance(exc.detail, dict) else {}
    return bool(detail.get("retryable", True))


def with_retries(
    fn: Callable[[], object], *, retries: int, backoff: float, stop: threading.Event | None = None
) -> tuple[object, int]:
    """``fn()`` retried on retryable failures with exponential backoff; (result, attempts)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn(), attempt
        except KarenaError as exc:
            if attempt > retries or not is_retryable(exc):
                exc.detail = {"attempts": attempt, "cause": exc.detail}
                raise
        delay = backoff * 2 ** (attempt - 1)
        if stop is not None:
            if stop.wait(delay):
                raise UpstreamError("stopped before the retry")
        else:
            time.sleep(delay)


def fill_gallery(
    store: Store,
    *,
    arena: str,
    prompts: Mapping[str, tuple[str, str]] | None = None,
    models: Sequence[str] = (),
    attached: Mapping[str, Generator] | None = None,
    concurrency: int = 4,
    retries: int = 3,
    backoff: float = 1.0,
    progress: Progress | None = None,
) -> GalleryFill:
    """Generate every missing output of ``models`` (default: all with a generator) on ``prompts``.

    ``prompts`` maps a key to (text, category) and is added to the arena first (default: the
    arena's own prompts). ``attached`` maps model names to in-process generators.
    """
    if concurrency < 1:
        raise InvalidInput("concurrency must be at least 1")
    started = time.monotonic()
    attached = dict(attached or {})
    catalog = {m.name: m for m in store.catalog.list_models(arena=arena)}
    names = list(models) or sorted(
        n for n, m in catalog.items() if m.enabled and (m.generator or n in attached)
    )
    if not names:
        raise InvalidInput(f"arena {arena!r} has no model with a live generator to run")
    generators: dict[str, Generator] = {}
    timeout = store.settings.generator_timeout_seconds
    for name in names:
        if name not in catalog:
            raise InvalidInput(f"arena {arena!r} has no model {name!r}")
        if name in attached:
            generators[name] = attached[name]
        elif catalog[name].generator:
            generators[name] = build_generator(catalog[name].generator or {}, timeout=timeout)
        else:
            raise InvalidInput(f"model {name!r} has no live generator config")
    if prompts is not None:
        stored = [
            store.catalog.add_prompt(arena=arena, text=t, key=k, source="generate", category=c)
            for k, (t, c) in prompts.items()
        ]
    else:
        stored = _all_prompts(store, arena)
    report = GalleryFill()
    todo: list[tuple[str, int, str, str]] = []
    for name in names:
        model_id = catalog[name].id
        for p in stored:
            if store.catalog.get_output(model_id=model_id, prompt_id=p.id) is not None:
                report.skipped += 1
            else:
                todo.append((name, p.id, p.key, p.text))
    total, done = len(todo), 0
    if progress is not None:
        progress(0, total)

    def run(name: str, key: str, text: str) -> int:
        def attempt() -> object:
            out = generators[name].generate(text)
            store.catalog.add_output(
                arena=arena, model=name, prompt_key=key, data=out.data, metadata=out.metadata
            )
            return None

        return with_retries(attempt, retries=retries, backoff=backoff)[1]

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="karena-gen") as pool:
        futures = {pool.submit(run, n, k, t): (n, k) for n, _, k, t in todo}
        for future in as_completed(futures):
            name, key = futures[future]
            try:
                future.result()
                report.generated += 1
            except ConfigError:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            except KarenaError as exc:
                attempts = exc.detail.get("attempts", 1) if isinstance(exc.detail, dict) else 1
                report.failures.append(GenerateFailure(name, key, int(attempts), exc.message))
            done += 1
            if progress is not None:
                progress(done, total)
    report.seconds = time.monotonic() - started
    return report


def _all_prompts(store: Store, arena: str) -> list[PromptInfo]:
    out: list[PromptInfo] = []
    offset = 0
    while True:
        page = store.catalog.list_prompts(arena=arena, offset=offset, limit=500)
        out.extend(page.items)
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return out
