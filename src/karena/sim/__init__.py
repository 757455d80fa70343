"""Simulation lab: simulated arenas with ground truth (pure; numpy/scipy only)."""

from karena.sim.engine import Method, RunRecord, SimArena
from karena.sim.metrics import (
    Summary,
    kendall_tau,
    position_mse,
    positions,
    settle_point,
    summarize,
)
from karena.sim.noise import FlipNoise, GumbelNoise, JudgeNoise, NoiseModel, ThurstonianNoise
from karena.sim.votes import SIM_VOTE_KINDS

__all__ = [
    "SIM_VOTE_KINDS",
    "FlipNoise",
    "GumbelNoise",
    "JudgeNoise",
    "Method",
    "NoiseModel",
    "RunRecord",
    "SimArena",
    "Summary",
    "ThurstonianNoise",
    "kendall_tau",
    "position_mse",
    "positions",
    "settle_point",
    "summarize",
]
