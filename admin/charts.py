"""Charts drawn on the server as inline SVG: stacked bars per hour, lines over time. No JavaScript.

Colours come from CSS classes (admin.css), so the SVG carries no style attributes; every piece of
text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

LEFT, RIGHT, TOP, BOTTOM = 52, 12, 30, 26  # margins around the plot area
GRID_LINES = 4
BAR_FILL = 0.7  # share of an hour's slot a bar covers
MAX_DOTS = 48  # draw a dot per point (with a tooltip) up to this many points


@dataclass(frozen=True)
class Canvas:
    """The SVG's size in user units (it scales to its box); the plot area sits inside the margins."""

    width: int = 720
    height: int = 220

    @property
    def plot_width(self) -> float:
        return self.width - LEFT - RIGHT

    def y(self, value: float, top: float) -> float:
        """The y coordinate of value on an axis from 0 to top."""
        return self.height - BOTTOM - value / top * (self.height - TOP - BOTTOM)


WIDE = Canvas()
HALF = Canvas(width=470)


@dataclass(frozen=True)
class Series:
    """One named row of values (None: no value there); `css` names its colour class."""

    name: str
    css: str
    values: Sequence[float | None]


def axis_top(value: float) -> float:
    """The y axis' top: GRID_LINES steps of 1, 2, 2.5 or 5 times a power of ten, covering value."""
    wanted = max(value / GRID_LINES, 0.25)
    power = 10 ** math.floor(math.log10(wanted))
    return GRID_LINES * next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= wanted - 1e-12)


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    canvas: Canvas = WIDE,
) -> Markup:
    """Stacked bars, one slot per label (e.g. per hour); every third label is printed."""
    stacks = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    top = axis_top(max(stacks, default=0))
    parts = _frame(canvas, chart_id, title, top, unit, series)
    slot = canvas.plot_width / max(len(labels), 1)
    for i, label in enumerate(labels):
        x = LEFT + i * slot + slot * (1 - BAR_FILL) / 2
        base = 0.0
        for s in series:
            value = s.values[i] or 0
            if value:
                y_top, y_bottom = canvas.y(base + value, top), canvas.y(base, top)
                parts.append(
                    f'<rect class="{s.css}" x="{x:.1f}" y="{y_top:.1f}" width="{slot * BAR_FILL:.1f}" '
                    f'height="{y_bottom - y_top:.1f}"><title>{escape(label)}: {_num(value)} '
                    f"{escape(s.name)}</title></rect>"
                )
            base += value
        if i % 3 == 0:
            parts.append(_x_label(canvas, x + slot * BAR_FILL / 2, label))
    return _close(canvas, parts, empty=not any(stacks))


def line_chart(
    chart_id: str,
    title: str,
    xs: Sequence[float],
    series: Sequence[Series],
    x_range: tuple[float, float],
    x_ticks: Sequence[tuple[float, str]],
    unit: str = "",
    canvas: Canvas = WIDE,
) -> Markup:
    """Lines over a numeric x axis (e.g. unix time); a None value breaks its line."""
    known = [v for s in series for v in s.values if v is not None]
    top = axis_top(max(known, default=0))
    parts = _frame(canvas, chart_id, title, top, unit, series)
    start, end = x_range
    to_x = lambda x: LEFT + (x - start) / max(end - start, 1e-9) * canvas.plot_width  # noqa: E731
    parts += [_x_label(canvas, to_x(x), label) for x, label in x_ticks]
    for s in series:
        points = [(to_x(x), canvas.y(v or 0, top), v) for x, v in zip(xs, s.values, strict=True)]
        parts += _polyline(s, points)
    return _close(canvas, parts, empty=not known)


def _polyline(series: Series, points: list[tuple[float, float, float | None]]) -> list[str]:
    parts, path, pen_down = [], [], False
    for x, y, value in points:
        if value is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
    if path:
        parts.append(f'<path class="line {series.css}" d="{" ".join(path)}"/>')
    known = [(x, y, v) for x, y, v in points if v is not None]
    if len(known) <= MAX_DOTS:
        parts += [
            f'<circle class="dot {series.css}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
            f"<title>{escape(series.name)}: {_num(v)}</title></circle>"
            for x, y, v in known
        ]
    return parts


def _frame(
    canvas: Canvas, chart_id: str, title: str, top: float, unit: str, series: Sequence[Series]
) -> list[str]:
    parts = [
        f'<svg class="chart" data-chart="{escape(chart_id)}" viewBox="0 0 {canvas.width} {canvas.height}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(GRID_LINES + 1):
        value = top * i / GRID_LINES
        y = canvas.y(value, top)
        right = canvas.width - RIGHT
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_num(value)}</text>'
        )
    if unit:
        parts.append(f'<text class="tick" x="4" y="{TOP - 12}">{escape(unit)}</text>')
    x = LEFT + 7 * len(unit)  # the unit sits at the left of the same line
    for s in series:
        parts.append(f'<rect class="{s.css}" x="{x}" y="6" width="12" height="12" rx="2"/>')
        parts.append(f'<text class="legend" x="{x + 16}" y="16">{escape(s.name)}</text>')
        x += 24 + 8 * len(s.name)
    return parts


def _close(canvas: Canvas, parts: list[str], empty: bool) -> Markup:
    if empty:
        x, y = LEFT + canvas.plot_width / 2, (TOP + canvas.height - BOTTOM) / 2
        parts.append(f'<text class="empty" x="{x:.0f}" y="{y:.0f}" text-anchor="middle">no data yet</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _x_label(canvas: Canvas, x: float, label: str) -> str:
    y = canvas.height - 8
    return f'<text class="tick" x="{x:.1f}" y="{y}" text-anchor="middle">{escape(label)}</text>'


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")
