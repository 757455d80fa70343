"""Server-rendered inline SVGs (no JS, no plotting library): the leaderboard's 95% intervals, and
a model's rating over time (:func:`history_plot`).

The leaderboard's is two drawings of the same rows: the wide one (names in a column left of the
lines) and a compact one for phones (each name above its line, the lines the full width), so
that names stay readable at 390 px, where the wide drawing shrinks to about half size. The
stylesheet shows one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from markupsafe import Markup, escape

from karena.web.schemas import LeaderboardRowOut
from karena.web.schemas_history import ModelHistoryOut

_ROW_HEIGHT = 22
_LABEL_WIDTH = 170
_PLOT_WIDTH = 420
_MARGIN = 12
#: The compact drawing: about a phone's width in CSS pixels, so 1 unit ≈ 1 px there.
_COMPACT_WIDTH = 360
_COMPACT_ROW = 36


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


def _bounds(rows: list[LeaderboardRowOut]) -> tuple[float, float]:
    low = min(min(r.ci_low, r.score) for r in rows)
    high = max(r.ci_high for r in rows)
    pad = (high - low) * 0.05 if high > low else 1.0
    return low - pad, high + pad


def _row_marks(row: LeaderboardRowOut, cy: float, x: Callable[[float], float]) -> str:
    """The interval line, the dot at μ and the tick at the score, centred on ``cy``."""
    cls = "interval provisional" if row.provisional else "interval"
    if row.placed_by_judge:
        cls = "interval judge"
    return (
        f'<line x1="{x(row.ci_low):.1f}" y1="{cy:.1f}" x2="{x(row.ci_high):.1f}" '
        f'y2="{cy:.1f}" class="{cls}"/>'
        f'<circle cx="{x(row.mu):.1f}" cy="{cy:.1f}" r="4" class="mu"/>'
        f'<line x1="{x(row.score):.1f}" y1="{cy - 6:.1f}" x2="{x(row.score):.1f}" '
        f'y2="{cy + 6:.1f}" class="score"/>'
    )


def _axis(low: float, high: float, x: Callable[[float], float], top: float, bottom: float) -> str:
    parts = []
    for tick in _nice_ticks(low, high):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top}" x2="{tx:.1f}" y2="{bottom}" class="grid"/>'
            f'<text x="{tx:.1f}" y="{bottom + 16}" class="tick">{tick:g}</text>'
        )
    return "".join(parts)


def _svg(css_class: str, width: float, height: float, body: str) -> str:
    return (
        f'<svg class="{css_class}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="95% intervals of each model\'s rating" '
        f'xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def _wide(rows: list[LeaderboardRowOut], low: float, high: float) -> str:
    width = _LABEL_WIDTH + _PLOT_WIDTH + 2 * _MARGIN

    def x(value: float) -> float:
        return _LABEL_WIDTH + _MARGIN + (value - low) / (high - low) * _PLOT_WIDTH

    axis_y = _ROW_HEIGHT * len(rows) + 8
    parts = [_axis(low, high, x, 4, axis_y)]
    for i, row in enumerate(rows):
        cy = _ROW_HEIGHT * i + _ROW_HEIGHT / 2 + 4
        parts.append(
            f'<text x="{_LABEL_WIDTH}" y="{cy + 4:.1f}" class="label">{escape(row.model)}</text>'
        )
        parts.append(_row_marks(row, cy, x))
    return _svg("interval-plot", width, _ROW_HEIGHT * len(rows) + 40, "".join(parts))


def _compact(rows: list[LeaderboardRowOut], low: float, high: float) -> str:
    span = _COMPACT_WIDTH - 2 * _MARGIN

    def x(value: float) -> float:
        return _MARGIN + (value - low) / (high - low) * span

    axis_y = _COMPACT_ROW * len(rows) + 4
    parts = [_axis(low, high, x, 4, axis_y)]
    for i, row in enumerate(rows):
        top = _COMPACT_ROW * i
        label = f"{row.rank}. {escape(row.model)}"
        parts.append(f'<text x="{_MARGIN}" y="{top + 15}" class="label">{label}</text>')
        parts.append(_row_marks(row, top + 26, x))
    height = _COMPACT_ROW * len(rows) + 36
    return _svg("interval-plot-compact", _COMPACT_WIDTH, height, "".join(parts))


def interval_plot(rows: list[LeaderboardRowOut]) -> Markup:
    """One line per model: its μ ± 1.96σ interval, a dot at μ and a tick at the score μ − 3σ.

    Both drawings, wide (``svg.interval-plot``) and compact (``svg.interval-plot-compact``).
    """
    if not rows:
        return Markup("")
    low, high = _bounds(rows)
    return Markup(_wide(rows, low, high) + _compact(rows, low, high))


#: The history plot's drawing area (SVG units; the drawing scales to the page's width).
_HISTORY_WIDTH = 640
_HISTORY_HEIGHT = 240
_HISTORY_LEFT = 44
_HISTORY_BOTTOM = 28
_Z_95 = 1.959963984540054


def history_plot(history: ModelHistoryOut) -> Markup:
    """The model's online μ (line) with its μ ± 1.96σ band, and the batch board's μ (squares,
    with their interval where it was bootstrapped), against the arena's counted vote number."""
    online, batch = history.online, history.batch
    if not online and not batch:
        return Markup("")
    lows = [p.mu - _Z_95 * p.sigma for p in online] + [p.ci_low for p in batch]
    highs = [p.mu + _Z_95 * p.sigma for p in online] + [p.ci_high for p in batch]
    low, high = min(lows), max(highs)
    pad = (high - low) * 0.05 if high > low else 1.0
    low, high = low - pad, high + pad
    last = max(history.arena_votes, 1)
    span_x = _HISTORY_WIDTH - _HISTORY_LEFT - _MARGIN
    span_y = _HISTORY_HEIGHT - _HISTORY_BOTTOM - _MARGIN

    def x(vote: float) -> float:
        return _HISTORY_LEFT + vote / last * span_x

    def y(value: float) -> float:
        return _MARGIN + (high - value) / (high - low) * span_y

    bottom = _HISTORY_HEIGHT - _HISTORY_BOTTOM
    parts = []
    for tick in _nice_ticks(low, high):
        parts.append(
            f'<line x1="{_HISTORY_LEFT}" y1="{y(tick):.1f}" x2="{x(last):.1f}" '
            f'y2="{y(tick):.1f}" class="grid"/>'
            f'<text x="{_HISTORY_LEFT - 4}" y="{y(tick) + 4:.1f}" class="ytick">{tick:g}</text>'
        )
    for tick in _nice_ticks(0, last, 6):
        if tick == int(tick) and 0 <= tick <= last:
            parts.append(f'<text x="{x(tick):.1f}" y="{bottom + 16}" class="tick">{tick:g}</text>')
    if online:
        upper = [f"{x(p.vote):.1f},{y(p.mu + _Z_95 * p.sigma):.1f}" for p in online]
        lower = [f"{x(p.vote):.1f},{y(p.mu - _Z_95 * p.sigma):.1f}" for p in reversed(online)]
        parts.append(f'<polygon points="{" ".join(upper + lower)}" class="band"/>')
        line = " ".join(f"{x(p.vote):.1f},{y(p.mu):.1f}" for p in online)
        parts.append(f'<polyline points="{line}" class="online"/>')
    for p in batch:
        cx, cy = x(p.vote), y(p.mu)
        if p.ci_high > p.ci_low:
            parts.append(
                f'<line x1="{cx:.1f}" y1="{y(p.ci_low):.1f}" x2="{cx:.1f}" '
                f'y2="{y(p.ci_high):.1f}" class="batch-interval"/>'
            )
        parts.append(
            f'<rect x="{cx - 3:.1f}" y="{cy - 3:.1f}" width="6" height="6" class="batch">'
            f"<title>batch board after {p.vote} votes: {p.mu:.2f}, rank {p.rank}</title></rect>"
        )
    parts.append(
        f'<line x1="{_HISTORY_LEFT}" y1="{bottom}" x2="{x(last):.1f}" y2="{bottom}" class="axis"/>'
    )
    label = f"{escape(history.model)}: rating against the arena's counted votes"
    return Markup(
        f'<svg class="history-plot" viewBox="0 0 {_HISTORY_WIDTH} {_HISTORY_HEIGHT}" '
        f'role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">'
        f"{''.join(parts)}</svg>"
    )
