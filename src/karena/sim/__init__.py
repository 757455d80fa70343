"""Simulation lab: simulated arenas with ground truth (pure; numpy/scipy only)."""
