"""Line charts as geometry: ticks, scaling into the plot area, gaps and empty series."""

from __future__ import annotations

import pytest

from qiloop.console.charts import PAD_BOTTOM, PAD_LEFT, PAD_RIGHT, PAD_TOP, Series, line_chart, nice_ticks


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 1, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0, 100, [0, 20, 40, 60, 80, 100]),
        (23.5, 31.2, [22, 24, 26, 28, 30, 32]),  # the ticks cover every value
        (0, 27.75, [0, 10, 20, 30]),
        (5, 5, [5, 6, 7, 8, 9, 10]),  # a flat series still gets a range
    ],
)
def test_nice_ticks(low, high, expected):
    assert nice_ticks(low, high) == pytest.approx(expected)


def test_points_fill_the_plot_area_from_corner_to_corner():
    chart = line_chart([Series("a", [(10, 0.0), (20, 0.5), (30, 1.0)])], width=400, height=200, y_min=0, y_max=1)
    [run] = chart.lines[0].runs
    first, middle, last = (tuple(map(float, p.split(","))) for p in run.split())
    assert first == (PAD_LEFT, 200 - PAD_BOTTOM)
    assert last == (400 - PAD_RIGHT, PAD_TOP)
    assert middle == pytest.approx(((PAD_LEFT + 400 - PAD_RIGHT) / 2, (PAD_TOP + 200 - PAD_BOTTOM) / 2), abs=0.1)
    assert [label for _, label in chart.y_ticks] == ["0", "0.2", "0.4", "0.6", "0.8", "1"]
    assert chart.x_ticks[0][1] == "10" and chart.x_ticks[-1][1] == "30"


def test_missing_values_break_the_line_and_series_get_their_own_class():
    chart = line_chart([Series("p50", [(0, 1), (1, None), (2, 3), (3, 4)]), Series("p95", [(0, 2), (3, 5)])])
    p50, p95 = chart.lines
    assert len(p50.runs) == 2 and len(p50.dots) == 3
    assert (p50.css, p95.css) == ("s0", "s1")
    assert "p50 2: 3" in [tip for *_, tip in p50.dots]


def test_no_points_is_an_empty_chart():
    chart = line_chart([Series("a", [(1, None)])], title="Latency")
    assert chart.empty and chart.lines == () and chart.title == "Latency"


def test_a_single_point_sits_in_the_middle():
    chart = line_chart([Series("a", [(5, 2.0)])], width=300)
    [(x, _, _)] = chart.lines[0].dots
    assert x == pytest.approx((PAD_LEFT + 300 - PAD_RIGHT) / 2, abs=0.1)


def test_values_above_a_round_tick_stay_inside_the_plot():
    chart = line_chart([Series("p95", [(0, 26.0), (1, 27.75)])], height=200, y_min=0)
    ys = [y for _, y, _ in chart.lines[0].dots]
    assert all(PAD_TOP <= y <= 200 - PAD_BOTTOM for y in ys)
    assert chart.y_ticks[-1][1] == "30"


def test_x_ticks_at_given_values():
    chart = line_chart([Series("mAP50", [(1, 0.5), (2, 0.6), (3, 0.7)])], x_at=[1, 2, 3], x_format=lambda x: f"v{x:g}")
    assert [label for _, label in chart.x_ticks] == ["v1", "v2", "v3"]
