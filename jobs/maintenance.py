"""Periodic maintenance jobs that rq-scheduler queues (see jobs.scheduler)."""

from __future__ import annotations

import logging

from rq import get_current_job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from app import stats
from app.enqueue import gif_queue
from jobs import runtime, workdir

log = logging.getLogger(__name__)


def recover_abandoned() -> int:
    """Re-queue jobs whose worker died (their heartbeat lapsed), even while every worker is busy."""
    job = get_current_job()
    assert job is not None
    settings = runtime.settings()
    registry = StartedJobRegistry(settings.queue_name, connection=job.connection, serializer=JSONSerializer)
    before = registry.count
    registry.cleanup()
    return before - registry.count


def sample_depth() -> int:
    """Record the queue depth (queued + waiting for retry) for the admin panel's chart."""
    job = get_current_job()
    assert job is not None
    settings = runtime.settings()
    queue = gif_queue(job.connection, settings)
    depth = queue.count + queue.scheduled_job_registry.count
    stats.record_depth(job.connection, depth)
    return depth


def sweep_temp() -> int:
    """Remove stale job temp dirs on the box that runs this job."""
    settings = runtime.settings()
    return workdir.sweep(settings.tmp_root, older_than_s=settings.job_timeout * 2)
