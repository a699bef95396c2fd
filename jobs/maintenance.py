"""Periodic maintenance, run inside the scheduler process (jobs.scheduler) and recorded in Redis.

It used to run as jobs on the users' queue, where it waited behind user videos when every worker
was busy. The old job entry points stay (core.contract) so schedules stored by an older version
still run; temp sweeps run on each worker box (jobs.worker), since temp dirs live there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis import Redis
from rq import Queue, get_current_job
from rq.job import JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from core import hourly, keys, retention, stats, upkeep
from core.admission import gif_queue
from core.connection import REDIS_DOWN
from core.settings import Settings
from core.upkeep import Pass, last_passes  # noqa: F401  (the record's format lives in core.upkeep)
from jobs import runtime, workdir

log = logging.getLogger(__name__)
STUCK_GRACE_S = 5.0
STUCK_MARK_TTL_S = 3600
# Right after an outage every job's heartbeat has lapsed; live workers refresh theirs within one
# monitoring interval (jobs.worker), so no job is called abandoned this soon after Redis is back.
AFTER_OUTAGE_GRACE_S = 20.0


def recover(redis: Redis, settings: Settings) -> int:
    """Re-queue jobs whose worker died (heartbeat lapsed) or that a dead worker took but never started."""
    registry = StartedJobRegistry(settings.queue_name, connection=redis, serializer=JSONSerializer)
    before = registry.get_job_count(cleanup=False)  # .count would clean up first, so count nothing
    registry.cleanup()
    abandoned = max(0, before - registry.get_job_count(cleanup=False))
    stuck = rescue_stuck(gif_queue(redis, settings))
    upkeep.note_recovery(redis, abandoned, stuck)
    return abandoned + stuck


def rescue_stuck(queue: Queue, grace_s: float = STUCK_GRACE_S) -> int:
    """Put back jobs a worker took off the queue but died before starting (RQ waits 60 s+ for those).

    A job normally spends milliseconds in RQ's intermediate queue; one seen there by two sweeps
    `grace_s` apart lost its worker. Only the sweeper whose LREM removed it re-queues it.
    """
    redis, rescued = queue.connection, 0
    for job_id in queue.intermediate_queue.get_job_ids():
        if job_id in queue.started_job_registry:
            continue
        if redis.set(keys.stuck(job_id), time.time(), nx=True, ex=STUCK_MARK_TTL_S):
            continue  # first sighting
        if time.time() - float(redis.get(keys.stuck(job_id)) or 0) < grace_s:
            continue
        if not redis.lrem(queue.intermediate_queue.key, 1, job_id):
            continue  # another sweeper (or its worker) took it first
        redis.delete(keys.stuck(job_id))
        job = queue.fetch_job(job_id)
        if job is not None and job.get_status(refresh=False) == JobStatus.QUEUED:
            queue.enqueue_job(job, at_front=True)
            rescued += 1
            log.warning("job=%s was stuck after its worker died; queued again", job_id)
    return rescued


def depth(redis: Redis, settings: Settings) -> int:
    """Record the queue depth (queued + waiting for retry) for the admin panel's chart."""
    queue = gif_queue(redis, settings)
    value = queue.count + queue.scheduled_job_registry.count
    hourly.record_depth(redis, value)
    return value


def forget_users(redis: Redis, settings: Settings) -> int:
    """Forget users inactive for USER_DATA_DAYS, once the all-time totals hold their counters."""
    stats.fill_totals(redis)  # an upgraded install: before any old user's counters go
    return retention.forget_inactive(redis, settings.user_data_ttl_s)


def run_pass(redis: Redis, task: str, fn: Callable[[], int]) -> Pass:
    """Run one task and record its start, end and result (or error) under keys.MAINTENANCE."""
    started = time.time()
    try:
        result = fn()  # before time.time(): the pass ends when the task has run
        done = Pass(task, started, time.time(), result=result)
    except REDIS_DOWN:
        raise  # the scheduler waits for Redis and runs the pass again
    except Exception as exc:  # a failed pass is recorded and logged; the next one runs as planned
        log.exception("maintenance %s failed", task)
        done = Pass(task, started, time.time(), error=type(exc).__name__)
    upkeep.record_pass(redis, done)
    return done


# The job entry points older versions scheduled on the queue (core.contract keeps their paths).
def recover_abandoned() -> int:
    """Job form of recover() for schedules stored by an older version."""
    job = get_current_job()
    assert job is not None
    return recover(job.connection, runtime.settings())


def sample_depth() -> int:
    """Job form of depth() for schedules stored by an older version."""
    job = get_current_job()
    assert job is not None
    return depth(job.connection, runtime.settings())


def sweep_temp() -> int:
    """Remove stale job temp dirs on the box that runs this (worker boxes call it themselves)."""
    settings = runtime.settings()
    return workdir.sweep(settings.tmp_root, older_than_s=settings.job_timeout * 2)
