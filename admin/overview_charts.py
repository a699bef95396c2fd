"""The overview's three charts, built from the stats: jobs per hour, queue depth, latency."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup

from admin.charts import HALF, Series, bar_chart, line_chart
from core.hourly import HourStats

DAY_S = 24 * 3600
HOUR_S = 3600
TICK_EVERY_H = 3


def jobs_per_hour(hours: list[HourStats]) -> Markup:
    """Delivered and failed (and refused) videos per UTC hour, stacked."""
    labels = [h.start.strftime("%H:00") for h in hours]
    return bar_chart(
        "jobs",
        "Jobs per hour (UTC), last 24 h",
        labels,
        [
            Series("delivered", "s-ok", [h.delivered for h in hours]),
            Series("failed", "s-bad", [h.failed for h in hours]),
            Series("refused", "s-warn", [h.refused for h in hours]),
        ],
        unit="jobs",
    )


def queue_depth(samples: list[tuple[float, int]], now: float) -> Markup:
    """Queue depth samples over the last 24 h."""
    return line_chart(
        "depth",
        "Queue depth, last 24 h",
        [ts for ts, _ in samples],
        [Series("waiting jobs", "s-info", [depth for _, depth in samples])],
        (now - DAY_S, now),
        time_ticks(now),
        unit="jobs",
        canvas=HALF,
    )


def latency(hours: list[HourStats], now: float) -> Markup:
    """End-to-end latency (video received to GIF delivered) per hour: p50 and p95."""
    middles = [h.start.timestamp() + HOUR_S / 2 for h in hours]
    return line_chart(
        "latency",
        "End-to-end latency per hour, last 24 h",
        middles,
        [Series("p50", "s-ok", [h.p50 for h in hours]), Series("p95", "s-warn", [h.p95 for h in hours])],
        (now - DAY_S, now),
        time_ticks(now),
        unit="seconds",
        canvas=HALF,
    )


def time_ticks(now: float) -> list[tuple[float, str]]:
    """Every third full UTC hour of the last 24 h, labelled HH:00."""
    first = int((now - DAY_S) // HOUR_S + 1) * HOUR_S
    ticks = []
    for ts in range(first, int(now) + 1, HOUR_S):
        moment = datetime.fromtimestamp(ts, UTC)
        if moment.hour % TICK_EVERY_H == 0:
            ticks.append((float(ts), moment.strftime("%H:00")))
    return ticks
