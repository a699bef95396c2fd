"""Periodic maintenance jobs that rq-scheduler queues (see jobs.scheduler)."""

from __future__ import annotations

import logging

from rq import get_current_job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

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


def sweep_temp() -> int:
    """Remove stale job temp dirs on the box that runs this job."""
    settings = runtime.settings()
    return workdir.sweep(settings.tmp_root, older_than_s=settings.job_timeout * 2)
