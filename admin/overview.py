"""What the overview, /api/stats, /metrics and /healthz report: the queue, workers, today, 24 hours."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from rq import Worker
from rq.serializers import JSONSerializer

from core import hourly
from core.admission import gif_queue
from core.settings import Settings

DAY_HOURS = 24


@dataclass(frozen=True)
class WorkerInfo:
    """One RQ worker as the panel shows it."""

    name: str
    state: str
    last_heartbeat: datetime | None
    current_job: str | None
    queues: tuple[str, ...]
    successful: int
    failed: int


@dataclass(frozen=True)
class QueueCounts:
    """How many jobs wait, run, failed for good, or wait for a retry."""

    name: str
    queued: int
    started: int
    failed: int
    scheduled: int


@dataclass(frozen=True)
class Totals:
    """Videos and outcomes over a span of hours, with delivery latency percentiles."""

    videos: int
    delivered: int
    failed: int
    refused: int
    p50: float | None
    p95: float | None


def workers(redis: Redis) -> list[WorkerInfo]:
    """Every registered worker (all boxes), by name."""
    found = Worker.all(connection=redis, serializer=JSONSerializer)
    return sorted((_worker_info(w) for w in found), key=lambda w: w.name)


def _worker_info(worker: Worker) -> WorkerInfo:
    state = worker.get_state()
    beat = worker.last_heartbeat
    if beat is not None and beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)  # RQ stores UTC
    return WorkerInfo(
        name=worker.name,
        state=str(getattr(state, "value", state)),
        last_heartbeat=beat,
        current_job=worker.get_current_job_id(),
        queues=tuple(q.name for q in worker.queues),
        successful=worker.successful_job_count or 0,
        failed=worker.failed_job_count or 0,
    )


def queue_counts(redis: Redis, settings: Settings) -> QueueCounts:
    """The conversion queue's length and its registries' sizes."""
    queue = gif_queue(redis, settings)
    return QueueCounts(
        name=queue.name,
        queued=queue.count,
        started=queue.started_job_registry.get_job_count(cleanup=False),
        failed=queue.failed_job_registry.get_job_count(cleanup=False),
        scheduled=queue.scheduled_job_registry.get_job_count(cleanup=False),
    )


def totals(hours: list[hourly.HourStats]) -> Totals:
    """Add up hourly counters; percentiles over all their latency samples."""
    latencies = [x for h in hours for x in h.latencies]
    return Totals(
        videos=sum(h.videos for h in hours),
        delivered=sum(h.delivered for h in hours),
        failed=sum(h.failed for h in hours),
        refused=sum(h.refused for h in hours),
        p50=hourly.percentile(latencies, 50),
        p95=hourly.percentile(latencies, 95),
    )


def today(redis: Redis, now: float | None = None) -> Totals:
    """Totals since 00:00 UTC today."""
    now = time.time() if now is None else now
    return totals(hourly.hourly(redis, hours=datetime.fromtimestamp(now, UTC).hour + 1, now=now))


def last_day(redis: Redis, now: float | None = None) -> list[hourly.HourStats]:
    """The last 24 UTC hours, oldest first (the current hour last)."""
    return hourly.hourly(redis, hours=DAY_HOURS, now=now)
