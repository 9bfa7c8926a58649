"""Charts as inline SVG drawn on the server: no JavaScript, no network, readable by a
screen reader (``role="img"`` with a title and a description, every value also printed
as text; the page shows the same numbers in a table)."""

from __future__ import annotations

import itertools
import math
from typing import Sequence

from markupsafe import Markup, escape

OK_COLOR = "#1b6e3a"  # at or above target
LOW_COLOR = "#b3541e"  # below target
NEUTRAL = "#2f5d8a"  # no target
GRID = "#d0d7de"
_ids = itertools.count(1)


def _fmt(v: float) -> str:
    return f"{v:.1f}".replace(".", ",")


def _color(value: float, target: float | None) -> str:
    if target is None:
        return NEUTRAL
    return OK_COLOR if value >= target else LOW_COLOR


def bar_chart(rows: Sequence[tuple[str, float | None, int]], *, title: str, target: float | None = None,
              unit: str = "%", width: int = 640) -> Markup:
    """Horizontal bars (0–100 %) per label, the target as a dashed line.
    ``rows``: (label, value or None when there is no answer, number of answers)."""
    uid = next(_ids)
    label_w, right_w, bar_h, gap, top = 210, 110, 22, 10, 28
    plot_w = width - label_w - right_w
    height = top + len(rows) * (bar_h + gap) + 24
    scale = lambda v: label_w + plot_w * max(0.0, min(v, 100.0)) / 100.0  # noqa: E731
    desc = "; ".join(f"{label}: {'không có dữ liệu' if v is None else _fmt(v) + unit} ({n} câu trả lời)"
                     for label, v, n in rows)
    if target is not None:
        desc += f". Mục tiêu {_fmt(target)}{unit}."
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-labelledby="c{uid}t c{uid}d">',
             f'<title id="c{uid}t">{escape(title)}</title><desc id="c{uid}d">{escape(desc)}</desc>']
    for tick in (0, 25, 50, 75, 100):
        x = scale(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 20}" stroke="{GRID}"/>'
                     f'<text x="{x:.1f}" y="{height - 6}" font-size="11" text-anchor="middle">{tick}%</text>')
    for i, (label, value, n) in enumerate(rows):
        y = top + i * (bar_h + gap)
        short = label if len(label) <= 32 else label[:31] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h * 0.7:.1f}" font-size="12" text-anchor="end">'
                     f'<title>{escape(label)}</title>{escape(short)}</text>')
        if value is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + bar_h * 0.7:.1f}" font-size="12" '
                         f'fill="#555">chưa có câu trả lời</text>')
            continue
        x_end = scale(value)
        parts.append(f'<rect x="{label_w}" y="{y}" width="{max(x_end - label_w, 1):.1f}" height="{bar_h}" '
                     f'fill="{_color(value, target)}"/>')
        parts.append(f'<text x="{label_w + plot_w + 6}" y="{y + bar_h * 0.7:.1f}" font-size="12">'
                     f'{_fmt(value)}{unit} (n={n})</text>')
    if target is not None:
        x = scale(target)
        parts.append(f'<line x1="{x:.1f}" y1="{top - 10}" x2="{x:.1f}" y2="{height - 20}" stroke="#000" '
                     f'stroke-dasharray="5 4" stroke-width="1.5"/>'
                     f'<text x="{x:.1f}" y="{top - 14}" font-size="11" text-anchor="middle">'
                     f'Mục tiêu {_fmt(target)}{unit}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(points: Sequence[tuple[str, float | None, int]], *, title: str,
               target: float | None = None, unit: str = "%", width: int = 640, height: int = 260) -> Markup:
    """A trend per period (month): points joined by a line, the target dashed. The value
    axis starts a little under the lowest value (stated on the axis), so small changes
    near the target stay visible."""
    uid = next(_ids)
    left, right, top, bottom = 48, 16, 24, 40
    values = [v for _, v, _ in points if v is not None]
    low_candidates = values + ([target] if target is not None else [])
    low = max(0.0, math.floor((min(low_candidates) - 5) / 10) * 10) if low_candidates else 0.0
    plot_w, plot_h = width - left - right, height - top - bottom
    y_of = lambda v: top + plot_h * (1 - (v - low) / (100.0 - low))  # noqa: E731
    x_of = lambda i: left + (plot_w * (i + 0.5) / max(len(points), 1))  # noqa: E731
    desc = "; ".join(f"{label}: {'không có dữ liệu' if v is None else _fmt(v) + unit} (n={n})"
                     for label, v, n in points)
    if target is not None:
        desc += f". Mục tiêu {_fmt(target)}{unit}."
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-labelledby="c{uid}t c{uid}d">',
             f'<title id="c{uid}t">{escape(title)}</title><desc id="c{uid}d">{escape(desc)}</desc>']
    steps = 4
    for k in range(steps + 1):
        v = low + (100.0 - low) * k / steps
        y = y_of(v)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{v:.0f}%</text>')
    if target is not None:
        y = y_of(target)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#000" '
                     f'stroke-dasharray="5 4" stroke-width="1.5"/>'
                     f'<text x="{width - right}" y="{y - 5:.1f}" font-size="11" text-anchor="end">'
                     f'Mục tiêu {_fmt(target)}{unit}</text>')
    coords = [(x_of(i), y_of(v), v) for i, (_, v, _) in enumerate(points) if v is not None]
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{NEUTRAL}" stroke-width="2"/>')
    for x, y, v in coords:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{_color(v, target)}"/>'
                     f'<text x="{x:.1f}" y="{y - 8:.1f}" font-size="11" text-anchor="middle">{_fmt(v)}</text>')
    for i, (label, _, _) in enumerate(points):
        parts.append(f'<text x="{x_of(i):.1f}" y="{height - bottom + 18}" font-size="11" '
                     f'text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
