"""Line charts as plain geometry for server-side SVG: no script, no inline style, nothing from a CDN.

:func:`line_chart` maps series of ``(x, y)`` points into a fixed viewBox and
picks readable ticks; the ``chart.html`` macro draws the result with
presentation attributes and CSS classes from the console's stylesheet, which
the pages' Content-Security-Policy allows.

Example:
    >>> c = line_chart([Series("mAP50", [(1, 0.5), (2, 0.7)])], width=200, height=100)
    >>> c.lines[0].runs[0].count(",")
    2
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 28, 10, 26


@dataclass(frozen=True)
class Series:
    """One named line; ``None`` values are gaps (the line breaks there)."""

    name: str
    points: Sequence[tuple[float, float | None]]


@dataclass(frozen=True)
class Line:
    name: str
    css: str
    runs: tuple[str, ...]  # "x,y x,y ..." for one <polyline> per unbroken run
    dots: tuple[tuple[float, float, str], ...]  # (x, y, tooltip)


@dataclass(frozen=True)
class Chart:
    """A chart ready to draw in a ``width`` × ``height`` viewBox."""

    title: str
    width: int
    height: int
    lines: tuple[Line, ...]
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    plot: tuple[float, float, float, float]  # left, top, right, bottom
    empty: bool = False
    extra: dict = field(default_factory=dict)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values from at or below ``low`` to at or above ``high`` (steps of 1, 2 or 5 times a power of ten).

    Example:
        >>> nice_ticks(0, 1)
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    ticks = [round(first + k * step, 10) for k in range(round((last - first) / step) + 1)]
    return ticks


def line_chart(
    series: Sequence[Series],
    *,
    title: str = "",
    width: int = 640,
    height: int = 200,
    y_min: float | None = None,
    y_max: float | None = None,
    x_format: Callable[[float], str] = lambda x: f"{x:g}",
    y_format: Callable[[float], str] = lambda y: f"{y:g}",
    x_at: Sequence[float] | None = None,
) -> Chart:
    """Scale ``series`` into the plot area; ``y_min``/``y_max`` fix the y range (e.g. 0..1 for rates).

    ``x_at`` puts the x ticks at these values (e.g. version numbers); default: five even ticks.
    """
    xs = [x for s in series for x, y in s.points if y is not None and math.isfinite(y)]
    ys = [y for s in series for _, y in s.points if y is not None and math.isfinite(y)]
    left, top, right, bottom = PAD_LEFT, PAD_TOP, width - PAD_RIGHT, height - PAD_BOTTOM
    if not xs:
        return Chart(title, width, height, (), (), (), (left, top, right, bottom), empty=True)
    x_lo, x_hi = min(xs), max(xs)
    y_ticks = nice_ticks(min(ys) if y_min is None else y_min, max(ys) if y_max is None else y_max, 5)
    y_lo, y_hi = (y_ticks[0], y_ticks[-1]) if len(y_ticks) > 1 else (min(ys), min(ys) + 1)
    if y_min is not None:
        y_lo = min(y_lo, y_min)
    span_x = (x_hi - x_lo) or 1.0
    span_y = (y_hi - y_lo) or 1.0

    def sx(x: float) -> float:
        return round(left + (x - x_lo) / span_x * (right - left) if x_hi > x_lo else (left + right) / 2, 1)

    def sy(y: float) -> float:
        return round(bottom - (y - y_lo) / span_y * (bottom - top), 1)

    lines = []
    for k, s in enumerate(series):
        runs, current, dots = [], [], []
        for x, y in s.points:
            if y is None or not math.isfinite(y):
                if current:
                    runs.append(" ".join(current))
                current = []
                continue
            current.append(f"{sx(x)},{sy(y)}")
            dots.append((sx(x), sy(y), f"{s.name} {x_format(x)}: {y_format(y)}"))
        if current:
            runs.append(" ".join(current))
        lines.append(Line(s.name, f"s{k % 6}", tuple(runs), tuple(dots)))
    if x_at is not None:
        x_ticks = tuple((sx(x), x_format(x)) for x in x_at if x_lo <= x <= x_hi)
    else:
        x_ticks = _x_ticks(x_lo, x_hi, sx, x_format)
    return Chart(
        title,
        width,
        height,
        tuple(lines),
        x_ticks,
        tuple((sy(v), y_format(v)) for v in y_ticks),
        (left, top, right, bottom),
    )


def _x_ticks(lo: float, hi: float, sx: Callable[[float], float], fmt: Callable[[float], str]):
    if hi <= lo:
        return ((sx(lo), fmt(lo)),)
    count = 4
    return tuple((sx(lo + (hi - lo) * i / count), fmt(lo + (hi - lo) * i / count)) for i in range(count + 1))
