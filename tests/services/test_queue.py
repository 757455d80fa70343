"""The generation job queue: claims, leases, retries, pending battles, and worker processes.

Every test runs on SQLite and (with KARENA_TEST_POSTGRES_URL) PostgreSQL. The worker-process
tests start real ``karena worker`` processes against one database and a local provider server
that counts the work it is asked for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from karena.errors import UpstreamError
from karena.generators.python import PythonGenerator
from karena.services.live import LiveGenerators
from karena.services.queue import GenerationQueue, run_worker
from karena.settings import Settings
from karena.store import Store
from tests.conftest import TestClock, png_bytes, seed_arena


def _arena_with_jobs(store: Store, n_prompts: int, n_models: int = 2) -> list[int]:
    store.catalog.create_arena(slug="q", k=2)
    ids = []
    for i in range(n_models):
        ids.append(store.catalog.add_model(arena="q", name=f"m{i}").id)
    for j in range(n_prompts):
        p = store.catalog.add_prompt(arena="q", text=f"prompt {j}", key=f"p{j}")
        store.jobs.enqueue_battle(arena="q", prompt_id=p.id, model_ids=ids, missing=ids)
    return ids


def test_claims_take_each_job_once_and_leases_expire(store: Store, clock: TestClock) -> None:
    _arena_with_jobs(store, 2)
    a = store.jobs.claim(worker="a", lease_seconds=30)
    b = store.jobs.claim(worker="b", lease_seconds=30)
    assert a is not None and b is not None and a.id != b.id
    assert (a.model_name, a.prompt_text, a.attempt) == ("m0", "prompt 0", 1)
    assert store.jobs.counts().running == 2 and store.jobs.counts().queued == 2
    assert store.jobs.heartbeat(job_id=a.id, worker="a", lease_seconds=30)
    assert not store.jobs.heartbeat(job_id=a.id, worker="b", lease_seconds=30)
    clock.advance(31)  # a and b stop beating: both leases run out
    c = store.jobs.claim(worker="c", lease_seconds=30)
    assert c is not None and c.id == a.id and c.attempt == 2
    assert not store.jobs.finish(job_id=a.id, worker="a")  # a lost it
    assert store.jobs.finish(job_id=c.id, worker="c")
    assert store.jobs.counts().done == 1


def test_retryable_failures_back_off_then_fail_for_good(store: Store, clock: TestClock) -> None:
    _arena_with_jobs(store, 1, n_models=1)
    job = store.jobs.claim(worker="w", lease_seconds=30)
    assert job is not None and job.max_attempts == 3
    assert store.jobs.fail(job_id=job.id, worker="w", error="503", retryable=True,
                           backoff_seconds=10) == "queued"  # fmt: skip
    assert store.jobs.claim(worker="w", lease_seconds=30) is None  # not before the backoff
    clock.advance(11)
    job = store.jobs.claim(worker="w", lease_seconds=30)
    assert job is not None and job.attempt == 2
    assert store.jobs.fail(job_id=job.id, worker="w", error="400 bad prompt", retryable=False,
                           backoff_seconds=10) == "failed"  # fmt: skip
    assert store.jobs.claim(worker="w", lease_seconds=30) is None
    assert store.jobs.counts().failed == 1


def test_a_job_whose_worker_keeps_dying_fails_after_max_attempts(
    store: Store, clock: TestClock
) -> None:
    _arena_with_jobs(store, 1, n_models=1)
    for attempt in (1, 2, 3):
        job = store.jobs.claim(worker=f"w{attempt}", lease_seconds=5)
        assert job is not None and job.attempt == attempt
        clock.advance(6)
    assert store.jobs.claim(worker="w4", lease_seconds=5) is None
    assert store.jobs.counts().failed == 1


def test_configured_only_skips_models_without_a_stored_config(store: Store) -> None:
    store.catalog.create_arena(slug="q", k=2)
    bare = store.catalog.add_model(arena="q", name="bare").id
    conf = store.catalog.add_model(
        arena="q", name="conf", generator={"kind": "demo", "renderer": "demo-faithful"}
    ).id
    p = store.catalog.add_prompt(arena="q", text="one red circle", key="p")
    store.jobs.enqueue_battle(
        arena="q", prompt_id=p.id, model_ids=[bare, conf], missing=[bare, conf]
    )
    job = store.jobs.claim(worker="w", lease_seconds=30, configured_only=True)
    assert job is not None and job.model_name == "conf"
    assert store.jobs.claim(worker="w", lease_seconds=30, configured_only=True) is None


@pytest.fixture
def live(store: Store) -> LiveGenerators:
    return LiveGenerators(store)


def test_typed_prompt_waits_for_its_outputs_then_opens_under_its_token(
    store: Store, live: LiveGenerators, clock: TestClock
) -> None:
    store.catalog.create_arena(slug="t", k=2)
    calls: list[str] = []
    for name in ("a", "b"):
        store.catalog.add_model(arena="t", name=name)

        def draw(prompt: str, name: str = name) -> bytes:
            calls.append(name)
            return png_bytes((len(prompt), ord(name), 1))

        live.register_generator(arena="t", model=name, generator=PythonGenerator(draw))
    queue = GenerationQueue(live)  # no threads: the test runs the worker itself
    req = queue.request_battle(arena="t", prompt_text="a green cube", voter_id="v")
    assert req.battle is None
    status = queue.status(token=req.token)
    assert (status.state, status.done, status.total) == ("generating", 0, 2)
    with pytest.raises(Exception, match="unknown battle"):
        store.battles.get_battle(token=req.token)  # never shown with an output missing
    stats = run_worker(store, live, name="w", exit_when_idle=True)
    assert stats.done == 2 and sorted(calls) == ["a", "b"]
    ready = queue.status(token=req.token)
    assert ready.state == "ready" and ready.battle is not None
    assert ready.battle.token == req.token and len(ready.battle.slots) == 2
    assert queue.status(token=req.token).battle == store.battles.get_battle(token=req.token)
    clock.advance(5)
    vote = store.voting.submit_vote(token=req.token, mode="best", winner=0, voter_id="v")
    assert {c.model_name for c in vote.contestants} == {"a", "b"}
    # The same prompt again opens at once from the stored outputs.
    again = queue.request_battle(arena="t", prompt_text="a green cube")
    assert again.battle is not None and len(calls) == 2


def test_a_failed_job_gives_a_message_and_a_new_battle(store: Store, live: LiveGenerators) -> None:
    seed_arena(store, slug="t", n_models=2, n_prompts=2, k=2)

    def broken(prompt: str) -> bytes:
        raise UpstreamError("HTTP 400: prompt refused", detail={"retryable": False})

    for name in ("model-0", "model-1"):
        live.register_generator(arena="t", model=name, generator=PythonGenerator(broken))
    queue = GenerationQueue(live)
    req = queue.request_battle(arena="t", prompt_text="something new")
    run_worker(store, live, name="w", exit_when_idle=True)
    status = queue.status(token=req.token)
    assert status.state == "failed" and "prompt refused" in status.message
    assert "new battle" in status.message and status.next_token is not None
    assert store.battles.get_battle(token=status.next_token).k == 2
    assert queue.status(token=req.token).next_token == status.next_token  # settled once


# -- worker processes --------------------------------------------------------------------------


@pytest.fixture
def provider(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], int]]:
    here = Path(__file__).resolve().parents[2]
    delay = getattr(request, "param", 0.05)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.generators.fake_providers", str(delay)],
        cwd=here, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    yield proc, port
    proc.kill()
    proc.wait(10)


def _stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as resp:
        counts: dict[str, int] = json.load(resp)
    return counts


def _worker(settings: Settings, *args: str, **env: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KARENA_")}
    clean.update(
        KARENA_DATABASE_URL=str(settings.database_url),
        KARENA_DATA_DIR=str(settings.data_dir),
        KARENA_MEDIA_DIR=str(settings.media_dir),
        KARENA_MEDIA_IMAGE_SIZE="32",
        KARENA_WORKER_POLL_SECONDS="0.05",
        **env,
    )
    script = Path(sys.executable).with_name("karena")
    return subprocess.Popen([str(script), "worker", *args], env=clean, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _real_store(settings: Settings) -> Store:
    return Store.open(settings)  # the real clock: worker processes use it too


def _provider_arena(store: Store, port: int, n_models: int) -> list[int]:
    store.catalog.create_arena(slug="w", k=2)
    return [
        store.catalog.add_model(arena="w", name=f"m{i}", generator={
            "kind": "hf-inference", "base_url": f"http://127.0.0.1:{port}/hf", "model": f"m{i}",
            "retries": 0,
        }).id
        for i in range(n_models)
    ]  # fmt: skip


def test_several_worker_processes_do_each_job_exactly_once(
    settings: Settings, provider: tuple[subprocess.Popen[str], int]
) -> None:
    _, port = provider
    with _real_store(settings) as store:
        ids = _provider_arena(store, port, n_models=3)
        prompts = []
        for j in range(12):
            p = store.catalog.add_prompt(arena="w", text=f"prompt {j}", key=f"p{j}")
            prompts.append(p)
            store.jobs.enqueue_battle(arena="w", prompt_id=p.id, model_ids=ids, missing=ids)
        workers = [_worker(settings, "--once", "-j", "2") for _ in range(4)]
        outs = [w.communicate(timeout=120) for w in workers]
        assert all(w.returncode == 0 for w in workers), [o[1][-2000:] for o in outs]
        done = [int(o[0].strip().splitlines()[-1].split()[0]) for o in outs]
        assert sum(done) == 36 and sum(d > 0 for d in done) >= 2  # shared out, none twice
        assert store.jobs.counts().done == 36
        assert _stats(port) == {f"prompt {j}": 3 for j in range(12)}  # each output asked once
        for p in prompts:
            for m in ids:
                assert store.catalog.get_output(model_id=m, prompt_id=p.id) is not None


@pytest.mark.parametrize("provider", [1.5], indirect=True)
def test_a_killed_workers_job_is_taken_again_after_its_lease(
    settings: Settings, provider: tuple[subprocess.Popen[str], int]
) -> None:
    _, port = provider
    with _real_store(settings) as store:
        ids = _provider_arena(store, port, n_models=1)
        p = store.catalog.add_prompt(arena="w", text="slow prompt", key="slow")
        store.jobs.enqueue_battle(arena="w", prompt_id=p.id, model_ids=ids, missing=ids)
        # The provider takes 1.5 s per image; a worker with a lease of 1 s that we SIGKILL
        # once its request is in stands for a machine that died mid-job.
        doomed = _worker(settings, KARENA_JOB_LEASE_SECONDS="1")
        deadline = time.monotonic() + 30
        while not _stats(port) and time.monotonic() < deadline:
            time.sleep(0.01)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        assert store.jobs.counts().running == 1  # held under a lease nobody renews now
        rescue = _worker(settings, KARENA_JOB_LEASE_SECONDS="1")
        while store.jobs.counts().done == 0 and time.monotonic() < deadline + 30:
            time.sleep(0.05)
        rescue.send_signal(signal.SIGTERM)
        out, err = rescue.communicate(timeout=60)
        assert rescue.returncode == 0, err[-2000:]
        assert out.strip().splitlines()[-1].startswith("1 jobs done")
        assert store.jobs.counts().done == 1
        assert _stats(port) == {"slow prompt": 2}  # the killed attempt, then the rescue
        assert store.catalog.get_output(model_id=ids[0], prompt_id=p.id) is not None


def test_a_battle_no_worker_serves_fails_after_the_battle_ttl(
    store: Store, live: LiveGenerators, clock: TestClock
) -> None:
    seed_arena(store, slug="t", n_models=2, n_prompts=1, k=2)
    for name in ("model-0", "model-1"):
        live.register_generator(arena="t", model=name, generator=PythonGenerator(lambda p: b""))
    queue = GenerationQueue(live)
    req = queue.request_battle(arena="t", prompt_text="nobody draws this")
    clock.advance(store.settings.battle_ttl_seconds - 1)
    assert queue.status(token=req.token).state == "generating"
    clock.advance(2)
    status = queue.status(token=req.token)
    assert status.state == "failed" and "no worker made it within" in status.message
    assert status.next_token is not None
