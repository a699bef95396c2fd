"""Server-side SVG charts: well-formed, escaped, honest about gaps and empty data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from admin.charts import Series, axis_top, bar_chart, line_chart
from admin.overview_charts import time_ticks

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


@pytest.mark.parametrize(("value", "top"), [(0, 1), (0.3, 1), (3, 4), (4, 4), (7, 8), (10, 10), (13, 20)])
def test_axis_top_is_a_round_number_covering_the_data(value, top):
    """The y axis ends on a round number at or above the largest value."""
    assert axis_top(value) == top


def test_bar_chart_stacks_one_rect_per_nonzero_value_with_escaped_titles():
    """Each non-zero value is one bar with a tooltip; labels are escaped."""
    series = [Series("ok", "s-ok", [1, 0, 2]), Series("bad", "s-bad", [1, 0, 0])]
    svg = bar_chart("jobs", "Jobs <per> hour", ["<00>", "01", "02"], series)
    root = parse(svg)
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == 3
    assert bars[0].find(f"{SVG}title").text == "<00>: 1 ok"
    assert "<per>" not in svg and "&lt;per&gt;" in svg


def test_line_chart_breaks_at_missing_values():
    """A None value splits the line into two segments."""
    series = [Series("p50", "s-ok", [1.0, None, 2.0, 3.0])]
    svg = line_chart("lat", "Latency", [0, 1, 2, 3], series, (0, 3), [])
    path = parse(svg).find(f"{SVG}path").get("d")
    assert path.count("M") == 2 and path.count("L") == 1


def test_empty_charts_say_so():
    """No data: the chart says 'no data yet' instead of drawing a flat line."""
    assert "no data yet" in line_chart("d", "Depth", [], [Series("depth", "s-info", [])], (0, 1), [])
    assert "no data yet" in bar_chart("j", "Jobs", ["00"], [Series("ok", "s-ok", [0])])


def test_time_ticks_mark_every_third_utc_hour():
    """Eight ticks over 24 h, each on a full hour divisible by three."""
    ticks = time_ticks(1_800_000_000.0)
    assert len(ticks) == 8
    assert all(ts % 3600 == 0 and int(label[:2]) % 3 == 0 for ts, label in ticks)
