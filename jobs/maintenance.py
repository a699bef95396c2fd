"""Periodic maintenance jobs that rq-scheduler queues (see jobs.scheduler)."""

from __future__ import annotations

import logging
import time

from rq import Queue, get_current_job
from rq.job import JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from core import hourly, keys
from core.admission import gif_queue
from jobs import runtime, workdir

log = logging.getLogger(__name__)
STUCK_GRACE_S = 5.0
STUCK_MARK_TTL_S = 3600


def recover_abandoned() -> int:
    """Re-queue jobs whose worker died (their heartbeat lapsed), even while every worker is busy."""
    job = get_current_job()
    assert job is not None
    settings = runtime.settings()
    registry = StartedJobRegistry(settings.queue_name, connection=job.connection, serializer=JSONSerializer)
    before = registry.count
    registry.cleanup()
    return before - registry.count + rescue_stuck(gif_queue(job.connection, settings))


def rescue_stuck(queue: Queue, grace_s: float = STUCK_GRACE_S) -> int:
    """Put back jobs a worker took off the queue but died before starting (RQ waits 60 s+ for those).

    A job normally spends milliseconds in RQ's intermediate queue; one seen there by two sweeps
    `grace_s` apart lost its worker. It never started, so it goes back to the front, not to a retry.
    """
    redis, rescued = queue.connection, 0
    for job_id in queue.intermediate_queue.get_job_ids():
        if job_id in queue.started_job_registry:
            continue
        if redis.set(keys.stuck(job_id), time.time(), nx=True, ex=STUCK_MARK_TTL_S):
            continue  # first sighting
        if time.time() - float(redis.get(keys.stuck(job_id)) or 0) < grace_s:
            continue
        queue.intermediate_queue.remove(job_id)
        redis.delete(keys.stuck(job_id))
        job = queue.fetch_job(job_id)
        if job is not None and job.get_status(refresh=False) == JobStatus.QUEUED:
            queue.enqueue_job(job, at_front=True)
            rescued += 1
            log.warning("job=%s was stuck after its worker died; queued again", job_id)
    return rescued


def sample_depth() -> int:
    """Record the queue depth (queued + waiting for retry) for the admin panel's chart."""
    job = get_current_job()
    assert job is not None
    settings = runtime.settings()
    queue = gif_queue(job.connection, settings)
    depth = queue.count + queue.scheduled_job_registry.count
    hourly.record_depth(job.connection, depth)
    return depth


def sweep_temp() -> int:
    """Remove stale job temp dirs on the box that runs this job."""
    settings = runtime.settings()
    return workdir.sweep(settings.tmp_root, older_than_s=settings.job_timeout * 2)
