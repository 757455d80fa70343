"""The generation job queue and the battles that wait on it: ``store.jobs``.

A typed prompt's missing outputs become rows of ``generation_jobs`` (one per model and prompt,
shared by every battle that needs it) and the battle a row of ``pending_battles``. Worker
processes, here or on other machines sharing the database, take jobs with :meth:`Jobs.claim`:

- PostgreSQL: ``UPDATE … WHERE id = (SELECT id … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING``:
  concurrent workers skip each other's rows instead of waiting on them;
- SQLite: the same conditional ``UPDATE … WHERE state = 'queued' AND id = (SELECT …)
  RETURNING`` inside the database's single write lock (``BEGIN IMMEDIATE``): one claim at a
  time, and the condition is re-checked by the statement that takes the row.

A claim holds a lease (``lease_until``) that :meth:`Jobs.heartbeat` extends; a job whose lease
runs out (its worker was killed) is claimable again, until ``max_attempts`` claims have been
made, when it fails. Storage only: running generators is :mod:`karena.services.queue`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.exc import IntegrityError

from karena.errors import NotFound
from karena.store.context import StoreContext
from karena.store.lookups import find_arena, row_id
from karena.store.models import Arena, GenerationJob, Model, PendingBattle, Prompt, UTCDateTime
from karena.store.text import token_key
from karena.store.types import ClaimedJob, JobCounts, JobState, PendingBattleInfo

__all__ = ["Jobs"]


class Jobs:
    """Queued generation jobs and pending battles: ``store.jobs``."""

    def __init__(self, ctx: StoreContext) -> None:
        self.ctx = ctx

    # -- the web side ------------------------------------------------------------------------

    def enqueue_battle(
        self,
        *,
        arena: str,
        prompt_id: int,
        model_ids: Sequence[int],
        missing: Sequence[int],
        voter_id: str | None = None,
        max_attempts: int = 3,
    ) -> str:
        """Queue a job for each model in ``missing`` and a pending battle; its token.

        A job that already exists for (model, prompt) is shared; one that failed or finished
        (and whose output has since gone) is queued again.
        """
        token = secrets.token_urlsafe(24)
        for attempt in range(3):
            try:
                with self.ctx.db.write() as s:
                    a = find_arena(s, arena)
                    now = self.ctx.now()
                    for model_id in missing:
                        self._queue_one(s, a.id, row_id(model_id, "model"), prompt_id, now,
                                        max_attempts)  # fmt: skip
                    s.add(
                        PendingBattle(
                            token=token, arena_id=a.id, prompt_id=prompt_id,
                            model_ids=[int(m) for m in model_ids],
                            voter_hash=self.ctx.voter_hash(voter_id) if voter_id else None,
                            state="generating", message="", created_at=now,
                        )
                    )  # fmt: skip
                return token
            except IntegrityError:  # another request queued the same job first: share it
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _queue_one(
        s: Any, arena_id: int, model_id: int, prompt_id: int, now: datetime, max_attempts: int
    ) -> None:
        job = s.scalar(
            select(GenerationJob).where(
                GenerationJob.model_id == model_id, GenerationJob.prompt_id == prompt_id
            )
        )
        if job is None:
            s.add(
                GenerationJob(
                    arena_id=arena_id, model_id=model_id, prompt_id=prompt_id, state="queued",
                    attempts=0, max_attempts=max_attempts, available_at=now, error="",
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
            s.flush()
        elif job.state in ("failed", "done"):
            job.state, job.attempts, job.error, job.worker = "queued", 0, "", None
            job.available_at, job.updated_at, job.max_attempts = now, now, max_attempts

    def pending_battle(self, *, token: str) -> PendingBattleInfo:
        """A pending battle and the state of its models' jobs (NotFound)."""
        with self.ctx.db.read() as s:
            row = s.scalar(select(PendingBattle).where(PendingBattle.token == token_key(token)))
            if row is None:
                raise NotFound("unknown battle")
            slug = s.scalar(select(Arena.slug).where(Arena.id == row.arena_id))
            prompt = s.scalar(select(Prompt.text).where(Prompt.id == row.prompt_id))
            jobs = s.execute(
                select(GenerationJob.model_id, GenerationJob.state, GenerationJob.error).where(
                    GenerationJob.prompt_id == row.prompt_id,
                    GenerationJob.model_id.in_(list(row.model_ids)),
                )
            ).all()
            return PendingBattleInfo(
                token=row.token, arena_slug=str(slug), prompt_id=row.prompt_id,
                prompt_text=str(prompt),
                model_ids=tuple(row.model_ids), voter_hash=row.voter_hash, state=row.state,
                message=row.message, next_token=row.next_token, created_at=row.created_at,
                jobs=tuple(JobState(int(m), str(st), str(e)) for m, st, e in jobs),
            )  # fmt: skip

    def settle_battle(
        self, *, token: str, state: str, message: str = "", next_token: str | None = None
    ) -> None:
        """Record how a pending battle ended: ``open`` or ``failed`` (with the battle offered)."""
        with self.ctx.db.write() as s:
            row = s.scalar(select(PendingBattle).where(PendingBattle.token == token_key(token)))
            if row is None:
                raise NotFound("unknown battle")
            row.state, row.message, row.next_token = state, message[:1000], next_token

    # -- the worker side ---------------------------------------------------------------------

    def claim(
        self,
        *,
        worker: str,
        lease_seconds: float,
        arena: str | None = None,
        configured_only: bool = False,
    ) -> ClaimedJob | None:
        """Take the oldest claimable job under a lease, or None when there is none.

        ``configured_only``: only jobs of models with a stored generator config (what a
        worker process that has no in-process generators can run).
        """
        now = self.ctx.now()
        params: dict[str, Any] = {
            "now": now, "lease": now + timedelta(seconds=lease_seconds), "worker": worker[:64]
        }  # fmt: skip
        with self.ctx.db.read_conn() as conn:  # an idle poll takes no write lock
            if conn.execute(_any_claimable(), {"now": now}).first() is None:
                return None
        with self.ctx.db.write_conn() as conn:
            if arena is not None:
                params["arena"] = conn.execute(select(Arena.id).where(Arena.slug == arena)).scalar()
                if params["arena"] is None:
                    raise NotFound(f"unknown arena {arena!r}")
            conn.execute(_expire_statement(), {"now": now})
            sql = _claim_statement(self.ctx.db.is_postgres, arena is not None, configured_only)
            got = conn.execute(sql, params).first()
            if got is None:
                return None
            job_id, attempts, max_attempts = int(got[0]), int(got[1]), int(got[2])
            row = conn.execute(
                select(Arena.slug, Model.name, Model.generator, Prompt.key, Prompt.text)
                .select_from(GenerationJob)
                .join(Arena, Arena.id == GenerationJob.arena_id)
                .join(Model, Model.id == GenerationJob.model_id)
                .join(Prompt, Prompt.id == GenerationJob.prompt_id)
                .where(GenerationJob.id == job_id)
            ).one()
        return ClaimedJob(
            id=job_id, arena_slug=row[0], model_name=row[1], generator=row[2],
            prompt_key=row[3], prompt_text=row[4], attempt=attempts, max_attempts=max_attempts,
        )  # fmt: skip

    def heartbeat(self, *, job_id: int, worker: str, lease_seconds: float) -> bool:
        """Extend a running job's lease; False when this worker no longer holds it."""
        now = self.ctx.now()
        with self.ctx.db.write_conn() as conn:
            done = conn.execute(
                _update("lease_until = :lease, updated_at = :now"),
                {"id": job_id, "worker": worker[:64], "now": now,
                 "lease": now + timedelta(seconds=lease_seconds)},
            )  # fmt: skip
            return bool(done.rowcount)

    def finish(self, *, job_id: int, worker: str) -> bool:
        """Mark a job this worker holds done; False when its lease was lost meanwhile."""
        with self.ctx.db.write_conn() as conn:
            done = conn.execute(
                _update("state = 'done', lease_until = NULL, error = '', updated_at = :now"),
                {"id": job_id, "worker": worker[:64], "now": self.ctx.now()},
            )
            return bool(done.rowcount)

    def fail(
        self, *, job_id: int, worker: str, error: str, retryable: bool, backoff_seconds: float
    ) -> str:
        """Record a failed attempt: queued again after a backoff, or failed; the new state."""
        with self.ctx.db.write() as s:
            job = s.get(GenerationJob, row_id(job_id, "job"))
            if job is None or job.state != "running" or job.worker != worker[:64]:
                return job.state if job is not None else "gone"
            now = self.ctx.now()
            job.error, job.updated_at, job.lease_until = error[:2000], now, None
            if retryable and job.attempts < job.max_attempts:
                job.state, job.worker = "queued", None
                job.available_at = now + timedelta(
                    seconds=backoff_seconds * 2 ** max(job.attempts - 1, 0)
                )
            else:
                job.state = "failed"
            return job.state

    def counts(self, *, arena: str | None = None) -> JobCounts:
        """How many jobs are in each state (of one arena, or all)."""
        with self.ctx.db.read() as s:
            q = select(GenerationJob.state, func.count()).group_by(GenerationJob.state)
            if arena is not None:
                q = q.where(GenerationJob.arena_id == find_arena(s, arena).id)
            counts = {str(st): int(n) for st, n in s.execute(q).all()}
        return JobCounts(**{st: counts.get(st, 0) for st in JobCounts.STATES})


def _update(assignments: str) -> Any:
    return text(
        f"UPDATE generation_jobs SET {assignments}"
        " WHERE id = :id AND state = 'running' AND worker = :worker"
    ).bindparams(*_time_params("now", "lease") if ":lease" in assignments else _time_params("now"))


def _time_params(*names: str) -> list[Any]:
    return [bindparam(n, type_=UTCDateTime()) for n in names]


@cache
def _any_claimable() -> Any:
    return text(
        "SELECT id FROM generation_jobs WHERE (state = 'queued' AND available_at <= :now)"
        " OR (state = 'running' AND lease_until < :now) LIMIT 1"
    ).bindparams(*_time_params("now"))


@cache
def _expire_statement() -> Any:
    """Jobs whose worker vanished on their last allowed attempt: failed, not claimed again."""
    return text(
        "UPDATE generation_jobs SET state = 'failed', lease_until = NULL, updated_at = :now,"
        " error = 'its worker stopped (lease expired) on attempt ' || attempts"
        " || ' of ' || max_attempts"
        " WHERE state = 'running' AND lease_until < :now AND attempts >= max_attempts"
    ).bindparams(*_time_params("now"))


@cache
def _claim_statement(postgres: bool, by_arena: bool, configured_only: bool) -> Any:
    claimable = (
        "((state = 'queued' AND available_at <= :now)"
        " OR (state = 'running' AND lease_until < :now))"
    )
    where = claimable
    if by_arena:
        where += " AND arena_id = :arena"
    if configured_only:
        where += (
            " AND model_id IN (SELECT id FROM models WHERE generator IS NOT NULL"
            " AND CAST(generator AS TEXT) <> 'null')"
        )
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    return text(
        "UPDATE generation_jobs SET state = 'running', worker = :worker, lease_until = :lease,"
        " attempts = attempts + 1, updated_at = :now"
        f" WHERE {claimable} AND id = (SELECT id FROM generation_jobs WHERE {where}"
        f" ORDER BY id LIMIT 1{lock})"
        " RETURNING id, attempts, max_attempts"
    ).bindparams(*_time_params("now", "lease"))
