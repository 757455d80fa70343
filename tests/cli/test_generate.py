"""``karena generate``: fill a gallery, retry, report failures, resume after SIGKILL."""

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

from karena.settings import Settings
from karena.store import Store
from tests.cli.conftest import Karena
from tests.generators.fake_providers import ProviderServer


@pytest.fixture
def providers() -> Iterator[ProviderServer]:
    server = ProviderServer()
    yield server
    server.close()


def _arena(karena: Karena, base: str, models: int = 2) -> None:
    assert karena("migrate").code == 0
    assert karena("arena", "add", "gen", "--k", "2").code == 0
    for i in range(models):
        config = {"kind": "hf-inference", "base_url": f"{base}/hf", "model": f"m{i}",
                  "retries": 0}  # fmt: skip
        ran = karena("model", "add", "gen", f"model-{i}", "--generator", json.dumps(config))
        assert ran.code == 0, ran.err


def _prompt_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text(
        "".join(json.dumps({"id": f"p{i}", "text": f"prompt number {i}"}) + "\n" for i in range(n))
    )
    return path


def _outputs(cli_env: dict[str, str]) -> dict[tuple[str, str], str]:
    settings = Settings(data_dir=Path(cli_env["KARENA_DATA_DIR"]),
                        database_url=cli_env["KARENA_DATABASE_URL"])  # fmt: skip
    with Store.open(settings, migrate=False) as store:
        found = {}
        for m in store.catalog.list_models(arena="gen"):
            for p in store.catalog.list_prompts(arena="gen", limit=1000).items:
                out = store.catalog.get_output(model_id=m.id, prompt_id=p.id)
                if out is not None:
                    found[(m.name, p.key)] = out.sha256
        return found


def test_generate_fills_the_gallery_then_skips_everything(
    karena: Karena, providers: ProviderServer, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    _arena(karena, providers.base)
    prompts = _prompt_file(tmp_path, 5)
    ran = karena("generate", "--arena", "gen", "--prompts", str(prompts), "-j", "3")
    assert ran.code == 0, ran.err
    assert "10 outputs generated, 0 already stored, 0 failed" in ran.out
    assert len(_outputs(cli_env)) == 10
    assert sum(providers.submissions.values()) == 10
    again = karena("generate", "--arena", "gen", "--prompts", str(prompts))
    assert "0 outputs generated, 10 already stored" in again.out
    assert sum(providers.submissions.values()) == 10  # nothing asked twice


def test_transient_failures_are_retried_and_permanent_ones_reported(
    karena: Karena, providers: ProviderServer, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    _arena(karena, providers.base, models=1)
    prompts = _prompt_file(tmp_path, 3)
    providers.fail_next = [503, 400]  # the first call is retried, the second fails for good
    ran = karena("generate", "-a", "gen", "-p", str(prompts), "-j", "1", "--backoff", "0.01")
    assert ran.code == 1
    assert "2 outputs generated, 0 already stored, 1 failed" in ran.out
    assert "HTTP 400" in ran.out and "failed" in ran.out and "model-0" in ran.out
    assert len(_outputs(cli_env)) == 2
    # A rerun makes only the one that failed.
    rerun = karena("generate", "-a", "gen", "-p", str(prompts))
    assert rerun.code == 0 and "1 outputs generated, 2 already stored" in rerun.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-a", "nope"), "nope"),
        (("-a", "gen", "--model", "ghost"), "no model 'ghost'"),
        (("-a", "gen", "--concurrency", "0"), "concurrency"),
    ],
)
def test_bad_arguments_are_one_error_line(
    karena: Karena, providers: ProviderServer, args: tuple[str, ...], message: str
) -> None:
    _arena(karena, providers.base, models=1)
    ran = karena("generate", *args)
    assert ran.code == 2 and message in ran.err and "Traceback" not in ran.err


def _stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as resp:
        counts: dict[str, int] = json.load(resp)
    return counts


def test_a_killed_run_resumes_without_generating_anything_twice(
    karena: Karena, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    here = Path(__file__).resolve().parents[2]
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.generators.fake_providers", "0.05"],
        cwd=here, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        _arena(karena, f"http://127.0.0.1:{port}", models=2)
        prompts = _prompt_file(tmp_path, 40)  # 80 outputs, 0.05 s each, 2 at a time: ~2 s
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("KARENA_")}, **cli_env}
        script = Path(sys.executable).with_name("karena")
        run = [str(script), "generate", "-a", "gen", "-p", str(prompts), "-j", "2"]
        first = subprocess.Popen(run, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while sum(_stats(port).values()) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        stored_at_kill = _outputs(cli_env)
        assert 10 <= len(stored_at_kill) < 80
        before = _stats(port)
        second = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert f"{len(stored_at_kill)} already stored" in second.stdout
        after = _stats(port)
        final = _outputs(cli_env)
        assert len(final) == 80  # every output is there
        assert {k: final[k] for k in stored_at_kill} == stored_at_kill  # none was replaced
        # Nothing already stored was asked for again; only the missing ones were.
        stored_prompts = {key for _, key in stored_at_kill}
        for i in range(40):
            text, key = f"prompt number {i}", f"p{i}"
            new = after.get(text, 0) - before.get(text, 0)
            missing = sum((m, key) not in stored_at_kill for m in ("model-0", "model-1"))
            assert new == missing, (key, new, missing, key in stored_prompts)
        assert sum(after.values()) - sum(before.values()) == 80 - len(stored_at_kill)
    finally:
        server.kill()
        server.wait(10)


def test_a_missing_key_variable_stops_the_run_with_one_line(
    karena: Karena, providers: ProviderServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert karena("migrate").code == 0
    assert karena("arena", "add", "gen", "--k", "2").code == 0
    config = {"kind": "fal", "base_url": f"{providers.base}/fal", "model": "a/b",
              "api_key_env": "KARENA_GEN_TEST_UNSET_KEY"}  # fmt: skip
    assert karena("model", "add", "gen", "m", "--generator", json.dumps(config)).code == 0
    monkeypatch.delenv("KARENA_GEN_TEST_UNSET_KEY", raising=False)
    ran = karena("generate", "-a", "gen", "-p", str(_prompt_file(tmp_path, 3)))
    ran.assert_one_error_line("KARENA_GEN_TEST_UNSET_KEY", "is not set")
    assert sum(providers.submissions.values()) == 0


def test_a_bad_generator_config_is_refused_when_the_model_is_added(karena: Karena) -> None:
    assert karena("migrate").code == 0
    assert karena("arena", "add", "gen", "--k", "2").code == 0
    karena("model", "add", "gen", "m", "--generator", "{not json").assert_one_error_line(
        "--generator is not valid JSON"
    )
    karena("model", "add", "gen", "m", "--generator", '{"kind": "fal"}').assert_one_error_line(
        "non-empty 'model'"
    )
