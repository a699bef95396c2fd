"""GET /metrics: a prometheus_client collector over Redis (queue, workers, outcomes, latency, users).

Each scrape makes the same few Redis reads however many users there are: the all-time counters
come from keys.TOTALS, kept up when videos are recorded, never from every user's hash.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from redis import Redis

from admin import overview
from core import keys, retention, stats
from core.models import Outcome
from core.settings import Settings

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the text format every Prometheus reads
OUTCOMES = tuple(o.value for o in Outcome)


class GifbotCollector:
    """Reads every gifbot metric from Redis each time its registry is collected."""

    def __init__(self, redis: Redis, settings: Settings, now: float | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.now = now

    def collect(self) -> Iterator[Metric]:
        """The queue's, the workers' and the usage metrics, read now."""
        redis, now = self.redis, time.time() if self.now is None else self.now
        yield from queue_metrics(overview.queue_counts(redis, self.settings), overview.workers(redis))
        last_day = overview.totals(overview.last_day(redis, now))
        yield from usage_metrics(stats.totals(redis), overview.today(redis, now), last_day)
        users = retention.active_users(redis, self.settings.user_data_ttl_s, now)
        yield gauge("gifbot_users", "Users seen within USER_DATA_DAYS.", users)
        yield gauge("gifbot_banned_users", "Users an admin banned.", redis.scard(keys.BANNED))


def render(redis: Redis, settings: Settings, now: float | None = None) -> bytes:
    """Every gifbot metric in the Prometheus text format, from a registry made for this scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GifbotCollector(redis, settings, now))
    return generate_latest(registry)


def queue_metrics(queue: overview.QueueCounts, workers: list[overview.WorkerInfo]) -> Iterator[Metric]:
    """The queue's and the workers' gauges."""
    per_queue = (
        ("gifbot_queue_depth", "Jobs waiting in the RQ queue.", queue.queued),
        ("gifbot_jobs_running", "Jobs a worker is running now.", queue.started),
        ("gifbot_jobs_failed_registry", "Jobs in RQ's failed registry.", queue.failed),
        ("gifbot_jobs_scheduled", "Jobs waiting for a retry.", queue.scheduled),
    )
    for name, help_text, value in per_queue:
        yield gauge(name, help_text, value, queue=queue.name)
    yield gauge("gifbot_workers", "Registered RQ workers on every box.", len(workers))
    by_state = GaugeMetricFamily(
        "gifbot_workers_by_state", "Registered RQ workers by state.", labels=["state"]
    )
    for state, count in sorted(Counter(w.state for w in workers).items()):
        by_state.add_metric([state], count)
    yield by_state


def usage_metrics(total: dict[str, int], today: overview.Totals, day: overview.Totals) -> Iterator[Metric]:
    """All-time counters, today's outcomes and the last day's latency percentiles."""
    yield counter("gifbot_videos_total", "Videos users sent, all time.", total["videos"])
    jobs = CounterMetricFamily("gifbot_jobs_total", "Videos by how they ended, all time.", labels=["outcome"])
    for outcome in OUTCOMES:
        jobs.add_metric([outcome], total[outcome])
    yield jobs
    yield counter("gifbot_input_bytes_total", "Bytes of video received.", total["bytes_in"])
    yield counter("gifbot_output_bytes_total", "Bytes of GIF delivered.", total["bytes_out"])
    today_jobs = GaugeMetricFamily(
        "gifbot_jobs_today", "Videos by how they ended since 00:00 UTC.", labels=["outcome"]
    )
    for outcome in OUTCOMES:
        today_jobs.add_metric([outcome], getattr(today, outcome))
    yield today_jobs
    latency = GaugeMetricFamily(
        "gifbot_latency_seconds",
        "End-to-end seconds from video received to GIF delivered, over the last 24 h.",
        labels=["quantile"],
    )
    for quantile, value in (("0.5", day.p50), ("0.95", day.p95)):
        if value is not None:
            latency.add_metric([quantile], value)
    yield latency


def gauge(name: str, help_text: str, value: float, **labels: str) -> GaugeMetricFamily:
    """A gauge with one sample (its labels, if any, as keyword arguments)."""
    family = GaugeMetricFamily(name, help_text, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


def counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    """A counter with one unlabelled sample (its name ends in _total)."""
    return CounterMetricFamily(name, help_text, value=value)
