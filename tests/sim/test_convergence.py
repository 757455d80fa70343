"""End to end: small arenas converge, the metrics count honestly, the CLI runs and fails cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from karena.sim.engine import SimArena
from karena.sim.metrics import (
    kendall_tau,
    position_mse,
    positions,
    settle_point,
    summarize,
    top_k_exact,
)
from karena.sim.noise import FlipNoise
from karena.sim.protocol import (
    information_floor,
    method_catalog,
    run_convergence,
    run_new_model,
    shuffled_worlds,
)


def test_settle_point_and_censoring() -> None:
    steps = np.arange(6)
    ok = np.array(
        [
            [False, False, True, True, True, True],  # settles after 2 votes
            [False, True, False, True, True, True],  # a relapse: settles after 3
            [True, True, True, True, True, False],  # wrong at the end: never settled
            [True] * 6,  # right from the start
        ]
    )
    np.testing.assert_array_equal(settle_point(ok, steps), [2.0, 3.0, np.inf, 0.0])
    s = summarize(np.array([10.0, 20.0, np.inf, np.inf, np.inf]), budget=100)
    assert s.converged == 2 and s.censored and s.fmt().startswith(">100")
    s2 = summarize(np.array([10.0, 20.0, 30.0, np.inf]), budget=100)
    assert s2.median == 25.0 and not s2.censored and s2.q75 == np.inf


def test_metrics_on_known_orders() -> None:
    truth = positions(np.array([[3.0, 2.0, 1.0, 0.0]]))
    np.testing.assert_array_equal(truth, [[1, 2, 3, 4]])
    swapped = np.array([[2, 1, 3, 4]])
    assert position_mse(swapped, truth)[0] == 0.5
    assert kendall_tau(swapped, truth)[0] == (5 - 1) / 6
    assert kendall_tau(truth, truth)[0] == 1.0
    assert not top_k_exact(swapped, truth, 2)[0] and top_k_exact(swapped, truth, 0)[0]
    assert abs(information_floor(50, 4) - 46.7) < 0.1


def test_ucb_converges_on_ten_models_without_noise() -> None:
    worlds = shuffled_worlds(10, 4, np.random.default_rng(0))
    res = run_convergence(method_catalog(4)["ucb"], worlds, FlipNoise(0.0), 6 * 300, seed=1)
    assert res.summary.converged == 4, res.votes
    assert np.all(res.votes < 300)
    assert res.curve[0] > 0 and res.curve[-1] == 0.0


def test_window_matchmaker_converges_and_beats_random() -> None:
    worlds = shuffled_worlds(12, 4, np.random.default_rng(3))
    catalog = method_catalog(4)
    window = run_convergence(catalog["window-tuned"], worlds, FlipNoise(0.0), 6 * 200, seed=2)
    rand = run_convergence(catalog["random"], worlds, FlipNoise(0.0), 6 * 200, seed=2)
    assert window.summary.converged == 4
    assert window.summary.median < rand.summary.median


def test_elo_sweep_reports_every_k_factor() -> None:
    worlds = shuffled_worlds(6, 3, np.random.default_rng(4))
    res = run_convergence(method_catalog(4)["elo"], worlds, FlipNoise(0.0), 400, seed=3)
    assert [f for f, _ in res.sweep] == list(method_catalog(4)["elo"].sweep)
    assert res.elo_k in [f for f, _ in res.sweep]
    assert len(res.votes) == 3


def test_newcomer_is_placed_by_pivot_and_ucb() -> None:
    catalog = method_catalog(4)
    (res,) = run_new_model([catalog["ucb"]], 12, 7, FlipNoise(0.0), 300, 120, 3, seed=5)
    assert res.board_converged == 1.0
    assert res.mean_position[0] >= 11.0  # enters at the bottom: the prior has the lowest μ − 3σ
    assert np.all(np.isfinite(res.settled))
    assert res.mean_position[-1] == 7.0


def test_disabled_models_are_never_shown() -> None:
    method = method_catalog(4)["ucb"]
    worlds = shuffled_worlds(8, 2, np.random.default_rng(6))
    disabled = np.zeros((2, 8), dtype=bool)
    disabled[:, 3] = True
    arena = SimArena(method, worlds, FlipNoise(0.0), np.random.default_rng(0), disabled)
    for _ in range(30):
        assert not np.any(arena.step() == 3)
    assert arena.counts[:, 3, :].sum() == 0


def _karena(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from karena.cli.main import run; run()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=240
    )


def test_cli_simulate_writes_table_plot_and_json(tmp_path: Path) -> None:
    out = _karena(
        "simulate",
        "--n",
        "8",
        "--seeds",
        "2",
        "--budget",
        "300",
        "--methods",
        "ucb,random,elo",
        "--noise",
        "0,0.1",
        "-o",
        str(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    assert "K=4 UCB" in out.stdout
    assert (tmp_path / "simulate.png").stat().st_size > 1000
    data = json.loads((tmp_path / "simulate.json").read_text())
    assert set(data["study"]["noise"]) == {"0%", "10%"}


def test_cli_simulate_bad_input_is_one_line() -> None:
    out = _karena("simulate", "--methods", "nope")
    assert out.returncode == 2
    assert "unknown method" in out.stderr and "Traceback" not in out.stderr


def test_noise_specs_parse_or_fail_clearly(tmp_path: Path) -> None:
    from karena.cli.simulate import parse_noise
    from karena.errors import InvalidInput, NotFound
    from karena.sim.noise import FlipNoise, ThurstonianNoise

    assert parse_noise("0.05", tmp_path) == ("5%", FlipNoise(0.05))
    assert parse_noise("thurstone:1.5", tmp_path) == ("β=1.5", ThurstonianNoise(1.5))
    with pytest.raises(InvalidInput, match="bad noise"):
        parse_noise("lots", tmp_path)
    with pytest.raises(InvalidInput, match=r"thurstone:1\.5"):
        parse_noise("thurstone:x", tmp_path)
    with pytest.raises(NotFound):
        parse_noise("judge", tmp_path / "absent.csv")
