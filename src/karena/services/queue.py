"""Typed prompts through the durable job queue: request a battle, run jobs, settle the battle.

The web request only plans: :meth:`GenerationQueue.request_battle` picks the K models, opens
the battle at once when every output is stored, and otherwise queues one job per missing
output (``store.jobs``) and answers a pending battle's token. :func:`run_worker` is what
``karena worker`` (and the web process's own worker threads) run: claim a job, generate under
a lease that a heartbeat keeps alive, store the output, mark the job done, next. Polling
:meth:`GenerationQueue.status` opens the battle, under the token already handed out, when the
last output is stored; a job that failed for good gives the voter its reason and a new battle
from the gallery instead. A battle is never opened with an output missing.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC

import numpy as np

from karena.errors import Conflict, KarenaError, NotFound
from karena.services.generate import is_retryable
from karena.services.live import LiveGenerators
from karena.store.api import Store
from karena.store.types import BattleView, ClaimedJob

__all__ = [
    "BattleRequest", "BattleStatus", "GenerationQueue", "WorkerStats", "run_worker", "warm_up",
]  # fmt: skip

log = logging.getLogger("karena.worker")
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True, slots=True)
class BattleRequest:
    """A typed prompt's battle: open now (``battle``) or pending under ``token``."""

    token: str
    battle: BattleView | None


@dataclass(frozen=True, slots=True)
class BattleStatus:
    """Where a battle stands: ``generating``, ``ready`` (``battle``) or ``failed``.

    A failed one carries a message for the voter and ``next_token``, a new battle from the
    gallery (None when the arena has none to offer).
    """

    token: str
    state: str
    arena_slug: str
    battle: BattleView | None = None
    message: str = ""
    next_token: str | None = None
    done: int = 0
    total: int = 0
    prompt_text: str = ""


@dataclass
class WorkerStats:
    """What a worker did."""

    done: int = 0
    retried: int = 0
    failed: int = 0


def warm_up() -> None:
    """Import what every job needs (HTTP adapters, image checks) before the first job.

    A worker started cold would otherwise spend its first job's time importing; several
    starting at once on a small machine add that to every queued battle's wait.
    """
    import httpx  # noqa: F401
    import PIL.Image  # noqa: F401

    import karena.generators.fal
    import karena.generators.hf_inference
    import karena.generators.openai_images
    import karena.generators.replicate
    import karena.media.reencode
    import karena.media.validate  # noqa: F401


def default_worker_name() -> str:
    """``host:pid``: who holds a job, as the jobs table shows it."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


class GenerationQueue:
    """The queue as the web layer sees it: one per store and process (``app.state.queue``)."""

    def __init__(self, live: LiveGenerators, *, threads: int = 0) -> None:
        self.live = live
        self.store: Store = live.store
        self.threads = threads
        self._started = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    # -- requests ----------------------------------------------------------------------------

    def request_battle(
        self,
        *,
        arena: str,
        prompt_text: str,
        voter_id: str | None = None,
        address_id: str | None = None,
        seed: int | None = None,
    ) -> BattleRequest:
        """Open the battle now if every output exists; else queue the missing ones.

        A prompt that needs generation passes the cost guard first (RateLimited).
        """
        rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
        prompt, picked, missing = self.live.plan_typed(
            arena=arena, prompt_text=prompt_text, rng=rng, voter_id=voter_id, address_id=address_id
        )
        ids = [m.id for m in picked]
        if not missing:
            battle = self.store.battles.open_battle(
                arena=arena, prompt_id=prompt.id, model_ids=ids, voter_id=voter_id, rng=rng
            )
            return BattleRequest(battle.token, battle)
        settings = self.store.settings
        token = self.store.jobs.enqueue_battle(
            arena=arena, prompt_id=prompt.id, model_ids=ids, missing=missing,
            voter_id=voter_id, max_attempts=settings.job_max_attempts,
        )  # fmt: skip
        self.start_threads()
        return BattleRequest(token, None)

    def status(self, *, token: str, voter_id: str | None = None) -> BattleStatus:
        """The battle's state; opens it when its outputs are all stored (NotFound)."""
        try:
            battle = self.store.battles.get_battle(token=token)
            return BattleStatus(token, "ready", battle.arena_slug, battle,
                                prompt_text=battle.prompt_text)  # fmt: skip
        except NotFound:
            pass
        pending = self.store.jobs.pending_battle(token=token)
        total = len(pending.model_ids)
        if pending.state == "failed":
            return BattleStatus(token, "failed", pending.arena_slug, message=pending.message,
                                next_token=pending.next_token, total=total,
                                prompt_text=pending.prompt_text)  # fmt: skip
        stored = [
            m
            for m in pending.model_ids
            if self.store.catalog.get_output(model_id=m, prompt_id=pending.prompt_id) is not None
        ]
        if len(stored) == total:
            rng = np.random.default_rng(secrets.randbits(64))
            try:
                battle = self.store.battles.open_battle(
                    arena=pending.arena_slug, prompt_id=pending.prompt_id,
                    model_ids=list(pending.model_ids), rng=rng, token=token,
                    voter_hash=pending.voter_hash,
                )  # fmt: skip
            except Conflict:  # another poll opened it first
                battle = self.store.battles.get_battle(token=token)
            self.store.jobs.settle_battle(token=token, state="open")
            return BattleStatus(token, "ready", pending.arena_slug, battle, done=total,
                                total=total, prompt_text=pending.prompt_text)  # fmt: skip
        failed = [j for j in pending.jobs if j.state == "failed" and j.model_id not in stored]
        ttl = self.store.settings.battle_ttl_seconds
        now = self.store.clock()
        waited = (now.replace(tzinfo=now.tzinfo or UTC) - pending.created_at).total_seconds()
        if failed or waited > ttl:
            # A queue no worker serves would keep the voter waiting for ever: give up after the
            # time a battle stays open.
            error = failed[0].error if failed else f"no worker made it within {ttl:g} s"
            status = self._fail(token, pending.arena_slug, error, voter_id, total)
            return replace(status, prompt_text=pending.prompt_text)
        return BattleStatus(token, "generating", pending.arena_slug, done=len(stored),
                            total=total, prompt_text=pending.prompt_text)  # fmt: skip

    def _fail(
        self, token: str, arena: str, error: str, voter_id: str | None, total: int
    ) -> BattleStatus:
        # The voter sees the reason, never where the generator lives (hosts, model paths).
        reason = _URL.sub("the provider", error)[:300] or "no reason given"
        message = (
            "One of the models could not generate an output for your prompt, so this battle "
            f"cannot open ({reason})."
        )
        next_token = None
        try:
            next_token = self.store.battles.create_battle(arena=arena, voter_id=voter_id).token
            message += " Here is a new battle instead."
        except KarenaError as exc:
            message += f" No other battle is available: {exc.message}"
        self.store.jobs.settle_battle(
            token=token, state="failed", message=message, next_token=next_token
        )
        return BattleStatus(token, "failed", arena, message=message, next_token=next_token,
                            total=total)  # fmt: skip

    # -- in-process workers ------------------------------------------------------------------

    def start_threads(self) -> None:
        """Start this process's worker threads (``web_generation_threads``) once."""
        if self.threads <= 0 or self._started:
            return
        with self._lock:
            if self._started:
                return
            self._started = True
            name = default_worker_name() + ":web"
            for i in range(self.threads):
                t = threading.Thread(
                    target=run_worker,
                    args=(self.store, self.live),
                    kwargs={"name": f"{name}{i}", "stop": self._stop},
                    name=f"karena-gen-{i}",
                    daemon=True,
                )
                t.start()
                self._workers.append(t)

    def close(self) -> None:
        """Stop the worker threads (each finishes the job it holds)."""
        self._stop.set()
        for t in self._workers:
            t.join(timeout=5)


def run_job(store: Store, live: LiveGenerators, job: ClaimedJob, name: str) -> str:
    """Generate and store one claimed job's output; the job's new state."""
    settings = store.settings
    lease = settings.job_lease_seconds
    beat_stop = threading.Event()

    def beat() -> None:
        while not beat_stop.wait(lease / 3):
            if not store.jobs.heartbeat(job_id=job.id, worker=name, lease_seconds=lease):
                return

    beating = threading.Thread(target=beat, name=f"karena-lease-{job.id}", daemon=True)
    beating.start()
    try:
        info = store.catalog.get_model(arena=job.arena_slug, name=job.model_name)
        existing = store.catalog.find_output(
            arena=job.arena_slug, model=job.model_name, prompt_key=job.prompt_key
        )
        if existing is None:  # a job re-run after a lost lease may find its output stored
            out = live.generator_for(info.arena_id, job.model_name, job.generator).generate(
                job.prompt_text
            )
            try:
                store.catalog.add_output(
                    arena=job.arena_slug, model=job.model_name, prompt_key=job.prompt_key,
                    data=out.data, metadata=out.metadata,
                )  # fmt: skip
            except Conflict:  # stored meanwhile by another writer: the job's work is done
                if (
                    store.catalog.find_output(
                        arena=job.arena_slug, model=job.model_name, prompt_key=job.prompt_key
                    )
                    is None
                ):
                    raise
        store.jobs.finish(job_id=job.id, worker=name)
        return "done"
    except KarenaError as exc:
        return store.jobs.fail(
            job_id=job.id, worker=name, error=exc.message, retryable=is_retryable(exc),
            backoff_seconds=settings.job_retry_backoff_seconds,
        )  # fmt: skip
    except Exception as exc:  # a generator bug must not kill the worker
        log.exception("job %s failed", job.id)
        return store.jobs.fail(
            job_id=job.id, worker=name, error=f"{type(exc).__name__}: {exc}"[:500],
            retryable=False, backoff_seconds=settings.job_retry_backoff_seconds,
        )  # fmt: skip
    finally:
        beat_stop.set()


def run_worker(
    store: Store,
    live: LiveGenerators,
    *,
    name: str | None = None,
    stop: threading.Event | None = None,
    arena: str | None = None,
    configured_only: bool = False,
    max_jobs: int | None = None,
    exit_when_idle: bool = False,
    on_job: Callable[[ClaimedJob, str], None] | None = None,
) -> WorkerStats:
    """Claim and run jobs until ``stop`` is set (or ``max_jobs``, or idle with
    ``exit_when_idle``); sleeps ``worker_poll_seconds`` when the queue is empty."""
    name = name or default_worker_name()
    stop = stop or threading.Event()
    stats = WorkerStats()
    poll = store.settings.worker_poll_seconds
    while not stop.is_set() and (max_jobs is None or stats.done + stats.failed < max_jobs):
        try:
            job = store.jobs.claim(
                worker=name, lease_seconds=store.settings.job_lease_seconds, arena=arena,
                configured_only=configured_only,
            )  # fmt: skip
        except KarenaError:
            raise
        except Exception:  # the database went away for a moment: wait and try again
            log.exception("claiming a job failed")
            stop.wait(max(poll, 1.0))
            continue
        if job is None:
            if exit_when_idle:
                break
            stop.wait(poll)
            continue
        started = time.monotonic()
        state = run_job(store, live, job, name)
        if state == "done":
            stats.done += 1
        elif state == "queued":
            stats.retried += 1
        else:
            stats.failed += 1
        log.info("job %s (%s) %s in %.2f s", job.id, job.model_name, state,
                 time.monotonic() - started)  # fmt: skip
        if on_job is not None:
            on_job(job, state)
    return stats
