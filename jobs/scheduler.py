"""`python -m jobs.scheduler`: rq-scheduler plus our periodic maintenance, run in this process.

One instance leads at a time (a renewed lock in Redis); a standby on another box takes over when
the leader dies. Maintenance runs here rather than on the users' queue, so recovering abandoned
jobs never waits behind user videos. While Redis is away the scheduler waits and resumes.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer
from rq_scheduler import Scheduler

from core import keys, upkeep
from core.connection import REDIS_DOWN, connect
from core.logs import setup_logging
from core.outage import backoff, wait_for_redis
from core.settings import Settings
from jobs import alerts, lost, maintenance
from jobs.outbox import Outbox

log = logging.getLogger(__name__)
POLL_INTERVAL_S = 5
LEADER_TTL_S = 6 * POLL_INTERVAL_S  # a dead leader is replaced within this long
# (task, every n seconds); free_lost_slots frees the slots of jobs deleted in rq-dashboard (jobs.lost),
# forget_users the data of users inactive for USER_DATA_DAYS (core.retention), alerts messages the
# admins (jobs.alerts; only with ADMIN_CHAT_IDS)
TASKS = (
    ("recover_abandoned", 10),
    ("free_lost_slots", 15),
    ("sample_depth", 60),
    ("forget_users", 3600),
    ("alerts", POLL_INTERVAL_S),
)
# Periodic jobs that older versions stored in rq-scheduler; cancelled at start (they run here now).
LEGACY_SCHEDULES = ("maintenance_recover_abandoned", "maintenance_sample_depth", "maintenance_sweep_temp")


class JSONJob(Job):
    """rq-scheduler creates jobs without a serializer; ours are JSON everywhere."""

    def __init__(self, id: str | None = None, connection: Any = None, serializer: Any = None) -> None:
        super().__init__(id, connection=connection, serializer=serializer or JSONSerializer)


class StopScheduler(Exception):
    """SIGTERM or SIGINT: leave the loop even while Redis is away."""


STOP = threading.Event()  # set by the signal handler; outlives a run() that a Redis error ended


class LeaderScheduler(Scheduler):
    """rq-scheduler that works only while it holds our leader lock, and runs maintenance each pass.

    rq-scheduler's own lock covers a single pass, so two instances would take turns; ours is held
    (and renewed every pass) until the leader stops or dies, then another instance takes over.
    """

    def __init__(
        self, *args: Any, settings: Settings, alerter: alerts.Alerts | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.alerter = alerter
        self.due: dict[str, float] = {}  # task -> monotonic time it is next due
        self.back_at = 0.0  # when this instance (re)connected: recovery waits a grace after it
        self.tell = lost.teller(self.connection, settings)

    def acquire_lock(self) -> bool:
        """Run a pass only while this instance leads."""
        if not self.lead():
            self.log.debug("standby: another scheduler leads")
            return False
        return bool(super().acquire_lock())

    def lead(self) -> bool:
        """Take or renew leadership; False while another live instance holds it."""
        if self.connection.set(keys.SCHEDULER_LOCK, self.name, nx=True, ex=LEADER_TTL_S):
            self.log.info("scheduler %s is now the leader", self.name)
            upkeep.took_lead(self.connection, self.name)
            return True
        holder = self.connection.get(keys.SCHEDULER_LOCK)
        if holder is not None and holder.decode() == self.name:
            self.connection.expire(keys.SCHEDULER_LOCK, LEADER_TTL_S)
            return True
        return False

    def enqueue_jobs(self) -> Any:
        """rq-scheduler's pass, then every maintenance task that is due."""
        moved = super().enqueue_jobs()
        now = time.monotonic()
        for task, every in TASKS:
            if now < self.due.get(task, 0.0) or not self.may_run(task):
                continue
            self.due[task] = now + every
            maintenance.run_pass(self.connection, task, self.task(task))
        return moved

    def may_run(self, task: str) -> bool:
        """Recovery waits out the grace after an outage, so live jobs refresh their heartbeats first."""
        if task == "alerts":
            return self.alerter is not None
        grace_over = time.monotonic() - self.back_at >= maintenance.AFTER_OUTAGE_GRACE_S
        return task != "recover_abandoned" or grace_over

    def task(self, name: str) -> Any:
        """The function that runs task `name` against our Redis."""
        if name == "recover_abandoned":
            return lambda: maintenance.recover(self.connection, self.settings)
        if name == "free_lost_slots":
            return lambda: lost.free_lost_slots(self.connection, self.settings, self.tell)
        if name == "forget_users":
            return lambda: maintenance.forget_users(self.connection, self.settings)
        if name == "alerts" and self.alerter is not None:
            return self.alerter.run
        return lambda: maintenance.depth(self.connection, self.settings)

    def _install_signal_handlers(self) -> None:
        """On SIGTERM/SIGINT leave the loop; giving up the lock is best effort (Redis may be away)."""

        def stop(_signum: int, _frame: object) -> None:
            STOP.set()
            raise StopScheduler

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def register_death(self) -> None:
        """Give up leadership on a clean stop so a standby takes over at once."""
        if self.connection.get(keys.SCHEDULER_LOCK) == self.name.encode():
            self.connection.delete(keys.SCHEDULER_LOCK)
        super().register_death()


def build_scheduler(
    settings: Settings, redis: Redis, name: str, alerter: alerts.Alerts | None = None
) -> LeaderScheduler:
    """A scheduler on settings.queue_name; schedules of older versions are cancelled."""
    scheduler = LeaderScheduler(
        queue_name=settings.queue_name,
        connection=redis,
        interval=POLL_INTERVAL_S,
        job_class=JSONJob,
        name=name,
        settings=settings,
        alerter=alerter,
    )
    for job_id in LEGACY_SCHEDULES:
        if job_id in scheduler:
            scheduler.cancel(job_id)
    return scheduler


def scheduler_now() -> Any:
    """rq-scheduler compares naive UTC datetimes."""
    return datetime.now(UTC).replace(tzinfo=None)


def main() -> int:
    """Run the scheduler loop until SIGTERM; a second instance waits for the lock; Redis outages
    are waited out (the loop starts again under a fresh name once Redis answers)."""
    settings = Settings.from_env()
    setup_logging(settings, "scheduler")
    redis = connect(settings)
    base = f"{socket.gethostname()}.{os.getpid()}"
    log.info("scheduler polling every %ss", POLL_INTERVAL_S)
    try:
        run_until_stopped(settings, redis, base)
    except StopScheduler:
        log.info("scheduler %s stopped", base)
    return 0


def run_until_stopped(settings: Settings, redis: Redis, base: str) -> None:
    """Run rq-scheduler's loop again and again, waiting out each Redis outage, until STOP."""
    previous: LeaderScheduler | None = None
    alerter = None
    if settings.admin_chat_ids:  # kept across loops: it remembers when Redis went away
        alerter = alerts.Alerts(redis, settings, Outbox(redis, settings).send)
    for generation in itertools.count():
        if not wait_for_redis(redis, f"scheduler {base}", STOP):
            return
        try:  # Redis may go again at any step, the set-up's too (a failover in a row of them)
            if alerter is not None:
                alerter.redis_back()
            if previous is not None:  # our last loop's lock: free it, or the next loop waits it out
                _give_up(previous)
            scheduler = build_scheduler(
                settings, redis, base if generation == 0 else f"{base}.{generation}", alerter
            )
            scheduler.back_at = time.monotonic()  # jobs' heartbeats may have lapsed while we were away
            previous = scheduler
            scheduler.run()
        except REDIS_DOWN:  # wait_for_redis logs the outage, once each way
            if alerter is not None:
                alerter.redis_lost()
            if STOP.wait(backoff(1)):
                return


def _give_up(scheduler: LeaderScheduler) -> None:
    """Release a scheduler's leader lock if it still holds it (best effort)."""
    try:
        scheduler.register_death()
    except REDIS_DOWN as exc:
        log.info("scheduler %s: %s giving up its lock; it lapses on its own", scheduler.name, exc)


if __name__ == "__main__":
    sys.exit(main())
