"""`python -m jobs.scheduler`: rq-scheduler queueing periodic maintenance (one instance holds the lock)."""

from __future__ import annotations

import logging
import os
import socket
import sys
from datetime import UTC, datetime
from typing import Any

from rq.job import Job
from rq.serializers import JSONSerializer
from rq_scheduler import Scheduler

from core import contract, keys
from core.connection import connect
from core.logs import setup_logging
from core.settings import Settings

log = logging.getLogger(__name__)
POLL_INTERVAL_S = 10
LEADER_TTL_S = 3 * POLL_INTERVAL_S  # a dead leader is replaced within this long
PERIODIC = (  # (job id, function, every n seconds)
    ("maintenance_recover_abandoned", contract.RECOVER_ABANDONED, 10),
    ("maintenance_sample_depth", contract.SAMPLE_DEPTH, 60),
    ("maintenance_sweep_temp", contract.SWEEP_TEMP, 600),
)


class JSONJob(Job):
    """rq-scheduler creates jobs without a serializer; ours are JSON everywhere."""

    def __init__(self, id: str | None = None, connection: Any = None, serializer: Any = None) -> None:
        super().__init__(id, connection=connection, serializer=serializer or JSONSerializer)


class LeaderScheduler(Scheduler):
    """rq-scheduler that works only while it holds our leader lock: one active instance at a time.

    rq-scheduler's own lock covers a single pass, so two instances would take turns; ours is held
    (and renewed every pass) until the leader stops or dies, then another instance takes over.
    """

    def acquire_lock(self) -> bool:
        if not self.lead():
            self.log.debug("standby: another scheduler leads")
            return False
        return bool(super().acquire_lock())

    def lead(self) -> bool:
        """Take or renew leadership; False while another live instance holds it."""
        ttl = LEADER_TTL_S
        if self.connection.set(keys.SCHEDULER_LOCK, self.name, nx=True, ex=ttl):
            self.log.info("scheduler %s is now the leader", self.name)
            return True
        holder = self.connection.get(keys.SCHEDULER_LOCK)
        if holder is not None and holder.decode() == self.name:
            self.connection.expire(keys.SCHEDULER_LOCK, ttl)
            return True
        return False

    def register_death(self) -> None:
        """Give up leadership on a clean stop so a standby takes over at once."""
        if self.connection.get(keys.SCHEDULER_LOCK) == self.name.encode():
            self.connection.delete(keys.SCHEDULER_LOCK)
        super().register_death()


def build_scheduler(settings: Settings) -> Scheduler:
    """A scheduler on settings.queue_name whose periodic jobs are (re)registered idempotently."""
    scheduler = LeaderScheduler(
        queue_name=settings.queue_name,
        connection=connect(settings),
        interval=POLL_INTERVAL_S,
        job_class=JSONJob,
        name=f"{socket.gethostname()}.{os.getpid()}",
    )
    for job_id, func, every in PERIODIC:
        if job_id in scheduler:
            scheduler.cancel(job_id)
        scheduler.schedule(
            scheduler_now(),
            func,
            id=job_id,
            interval=every,
            repeat=None,
            result_ttl=every * 2,
            timeout=120,
            description=f"maintenance: {job_id}",
        )
    return scheduler


def scheduler_now() -> Any:
    """rq-scheduler compares naive UTC datetimes."""

    return datetime.now(UTC).replace(tzinfo=None)


def main() -> int:
    """Run the scheduler loop until SIGTERM; a second instance waits for the lock."""
    settings = Settings.from_env()
    setup_logging(settings, "scheduler")
    scheduler = build_scheduler(settings)
    log.info("scheduler polling every %ss", POLL_INTERVAL_S)
    scheduler.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
