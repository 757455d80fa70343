"""A server-rendered inline SVG of the leaderboard's 95% intervals (no JS, no plotting library)."""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from karena.web.schemas import LeaderboardRowOut

_ROW_HEIGHT = 22
_LABEL_WIDTH = 170
_PLOT_WIDTH = 420
_MARGIN = 12


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low if high > low else 1.0
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + 1e-9 and len(ticks) < 20:
        ticks.append(round(value, 10))
        value += step
    return ticks


def interval_plot(rows: list[LeaderboardRowOut]) -> Markup:
    """One line per model: its μ ± 1.96σ interval, a dot at μ and a tick at the score μ − 3σ."""
    if not rows:
        return Markup("")
    low = min(min(r.ci_low, r.score) for r in rows)
    high = max(r.ci_high for r in rows)
    pad = (high - low) * 0.05 if high > low else 1.0
    low, high = low - pad, high + pad
    width = _LABEL_WIDTH + _PLOT_WIDTH + 2 * _MARGIN
    height = _ROW_HEIGHT * len(rows) + 40

    def x(value: float) -> float:
        return _LABEL_WIDTH + _MARGIN + (value - low) / (high - low) * _PLOT_WIDTH

    parts = [
        f'<svg class="interval-plot" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="95% intervals of each model\'s rating" xmlns="http://www.w3.org/2000/svg">'
    ]
    axis_y = _ROW_HEIGHT * len(rows) + 8
    for tick in _nice_ticks(low, high):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="4" x2="{tx:.1f}" y2="{axis_y}" class="grid"/>'
            f'<text x="{tx:.1f}" y="{axis_y + 16}" class="tick">{tick:g}</text>'
        )
    for i, row in enumerate(rows):
        cy = _ROW_HEIGHT * i + _ROW_HEIGHT / 2 + 4
        cls = "interval provisional" if row.provisional else "interval"
        if row.placed_by_judge:
            cls = "interval judge"
        parts.append(
            f'<text x="{_LABEL_WIDTH}" y="{cy + 4:.1f}" class="label">{escape(row.model)}</text>'
            f'<line x1="{x(row.ci_low):.1f}" y1="{cy:.1f}" x2="{x(row.ci_high):.1f}" '
            f'y2="{cy:.1f}" class="{cls}"/>'
            f'<circle cx="{x(row.mu):.1f}" cy="{cy:.1f}" r="4" class="mu"/>'
            f'<line x1="{x(row.score):.1f}" y1="{cy - 6:.1f}" x2="{x(row.score):.1f}" '
            f'y2="{cy + 6:.1f}" class="score"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
