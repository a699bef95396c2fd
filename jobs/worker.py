"""`python -m jobs.worker`: an RQ worker on the gifs queue, tuned to notice dead workers fast."""

from __future__ import annotations

import itertools
import logging
import netrc
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.serializers import JSONSerializer

from core import boxes, telegram
from core.admission import gif_queue
from core.connection import REDIS_DOWN, connect
from core.logs import setup_logging
from core.outage import Outage, backoff, wait_for_redis
from core.settings import Settings
from jobs import (
    convert,
    delivery,
    diskroom,
    lifeline,
    maintenance,
    overlay,
    palettes,
    runtime,
    spare,
    standby,
    stopping,
    toolbox,
    workdir,
)
from jobs.recipe import Limits

log = logging.getLogger(__name__)

# Crash recovery (README, "Crash recovery"): a job whose worker died is noticed once its
# heartbeat lapses (JOB_MONITORING_INTERVAL_S + HEARTBEAT_GRACE_S) and the next maintenance
# pass (every MAINTENANCE_INTERVAL_S, idle workers wake every WORKER_TTL_S - 15) re-queues it.
JOB_MONITORING_INTERVAL_S = 5
HEARTBEAT_GRACE_S = 10
MAINTENANCE_INTERVAL_S = 15
WORKER_TTL_S = 35
PUBSUB_RETRY_S = 2.0  # RQ's command thread retries this often while Redis is away
TEMP_SWEEP_EVERY_S = 600  # stale temp dirs of this box are removed this often
# Imported before forking so each work horse starts warm. requests imports netrc (and shlex) on
# a process's first request, to look for ~/.netrc: ~2 ms each work horse paid on its getFile.
PRELOADED = (convert, delivery, netrc)


class GifWorker(stopping.StopsWhenIdle, diskroom.PausesForDisk, Worker):
    """RQ's forking worker with a short job heartbeat (RQ adds a fixed 60 s otherwise) that rides
    out Redis outages: a job in progress keeps running, an idle worker waits for Redis, and a
    worker whose temp disk is nearly full takes no job until it has room again."""

    probe_limits: Limits | None = None  # the jobs' ffprobe limits, for spare runs (jobs.spare); None: none

    def __init__(
        self, *args: Any, tmp_root: Path | None = None, min_free_disk_mb: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.outage = Outage(f"worker {self.name}")
        self.back_at = 0.0  # monotonic time Redis last came back after an outage
        self.swept_at = time.monotonic()  # main() swept this box's temp dirs at start
        self.tmp_root = tmp_root or Path(tempfile.gettempdir())
        self.min_free_disk_mb = min_free_disk_mb  # 0: never pause for disk space
        self.free_disk_mb = 0
        self.paused_for_disk = False
        self.disk_check_s = diskroom.DISK_CHECK_S
        self.box = socket.gethostname()

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        """RQ's dequeue (no job while the temp disk is nearly full); the next job's ffprobes start
        (jobs.spare), and its work horse is forked (jobs.standby)."""
        if not self.wait_for_disk(burst=timeout is None):
            return None  # burst mode, or asked to stop: leave the work loop
        spare.start(self.tmp_root, self.probe_limits)
        standby.start(self)  # after the spare: the horse adopts it
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """RQ's fork, run and wait; then the spare ffprobe runs the job used are replaced."""
        try:
            super().execute_job(job, queue)
        finally:
            spare.after_job(self.tmp_root, self.probe_limits)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat, but while Redis is away wait for it (logged once) instead of dying.

        One round trip: RQ beats right after taking a job, before it forks the work horse, and
        its three commands and our status's four, one by one, held every job ~2 ms."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            self.publish_status(pipeline)
            return
        while True:
            try:
                if self.outage.active and not self.connection.hexists(self.key, "birth"):
                    self.register_birth()  # our registration lapsed during the outage: show up again
                with self.connection.pipeline(transaction=False) as pipe:
                    super().heartbeat(timeout, pipeline=pipe)
                    self.publish_status(pipe)
                    pipe.execute()
            except REDIS_DOWN as exc:
                time.sleep(self.outage.failed(exc))
                continue
            self.recovered()
            return

    def maintain_heartbeats(self, job: Job, execution: Any) -> None:
        """Keep the running job's heartbeat; while Redis is away the horse simply keeps working."""
        try:
            super().maintain_heartbeats(job, execution)
        except REDIS_DOWN as exc:
            self.outage.failed(exc)
            return
        self.recovered()

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """Record the worker's state; the record is best effort while Redis is away."""
        try:
            super().set_state(state, pipeline)
        except REDIS_DOWN as exc:
            self.outage.failed(exc)

    def _pubsub_exception_handler(self, exc: Exception, pubsub: Any, pubsub_thread: Any) -> None:
        """RQ's command channel thread: wait out an outage without an error line every 2 s."""
        if not isinstance(exc, REDIS_DOWN):
            super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)
            return
        self.outage.failed(exc)
        time.sleep(PUBSUB_RETRY_S)  # redis-py resubscribes once the connection is back

    def set_shutdown_requested_date(self) -> None:
        """Record a SIGTERM in Redis if it answers; a stop must work while Redis is away too."""
        try:
            super().set_shutdown_requested_date()
        except REDIS_DOWN as exc:
            self.outage.failed(exc)

    def recovered(self) -> None:
        """Note that Redis answers (again)."""
        if self.outage.active:
            self.back_at = time.monotonic()
        self.outage.recovered()

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """Heartbeat TTL: monitoring interval plus a small grace, not plus 60 s."""
        return self.job_monitoring_interval + HEARTBEAT_GRACE_S

    def clean_registries(self) -> None:
        """RQ's maintenance pass, plus putting back jobs a dead worker took but never started.

        Right after an outage every job's heartbeat has lapsed; live workers refresh theirs within
        a monitoring interval, so wait that long before calling any job abandoned.
        """
        if time.monotonic() - self.swept_at > TEMP_SWEEP_EVERY_S:
            self.swept_at = time.monotonic()
            workdir.sweep(runtime.settings().tmp_root, older_than_s=runtime.settings().job_timeout * 2)
        if time.monotonic() - self.back_at < maintenance.AFTER_OUTAGE_GRACE_S:
            return
        super().clean_registries()
        for queue in self.queues:
            maintenance.rescue_stuck(queue)

    def register_death(self) -> None:
        """The work loop's end: the spare ffprobe runs go (the next loop starts its own), RQ's death
        record is made, then our status goes too (it would expire on its own anyway)."""
        spare.close()
        standby.close()
        super().register_death()
        boxes.forget(self.connection, self.name)

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        """Hand the job to the standby horse (jobs.standby), else fork one: remember our pid so the
        horse can tell whether we died before it was set up; close our Bot API connections (we
        tell users of dead horses), which the horse would share."""
        self.parent_pid = os.getpid()
        telegram.drop_connections()
        if not standby.hand_over(self, job, queue):
            super().fork_work_horse(job, queue)

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        """Run the job in the forked horse, which dies if this worker dies."""
        lifeline.die_with_parent(self.parent_pid)
        super().main_work_horse(job, queue)

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: object) -> None:
        """RQ skips on_failure when the horse dies (OOM, SIGKILL): run ours so the user hears."""
        delivery.report_failure(job, self.connection, delivery.WorkHorseDied, delivery.WorkHorseDied(), None)


def build_worker(settings: Settings, name: str | None = None, redis: Redis | None = None) -> GifWorker:
    """A worker on settings.queue_name with the JSON serializer and fast crash detection."""
    redis = redis or connect(settings)
    worker = GifWorker(
        [gif_queue(redis, settings)],
        connection=redis,
        serializer=JSONSerializer,
        name=name or f"{socket.gethostname()}.{os.getpid()}",
        job_monitoring_interval=JOB_MONITORING_INTERVAL_S,
        maintenance_interval=MAINTENANCE_INTERVAL_S,
        worker_ttl=WORKER_TTL_S,
        tmp_root=settings.tmp_root,
        min_free_disk_mb=settings.min_free_disk_mb,
    )
    worker.probe_limits = convert.limits_for(settings)
    return worker


def main() -> int:
    """Read settings, sweep stale temp files, work until SIGTERM (the current job finishes first)."""
    settings = Settings.from_env(require=("TELEGRAM_BOT_TOKEN",))
    setup_logging(settings, "worker")
    runtime.init(settings)
    toolbox.warm_up()  # before forking: every work horse knows this ffmpeg's decoders and filters
    palettes.can_rewrite()  # and whether gifsicle is here
    overlay.warm_up()  # and which characters the text faces have
    workdir.sweep(settings.tmp_root, older_than_s=settings.job_timeout * 2)
    redis = connect(settings)
    base_name = settings.worker_name or f"{socket.gethostname()}.{os.getpid()}"
    # A Redis that answers PING but refuses writes (READONLY, MISCONF, NOREPLICAS) ends each work
    # loop at once: back off between loops that end quickly, or the worker spins.
    quick_ends = 0
    worker: GifWorker | None = None
    try:
        for generation in itertools.count():
            wait_for_redis(redis, f"worker {base_name}")
            release_scheduler_lock(worker)
            name = base_name if generation == 0 else f"{base_name}.{generation}"
            worker = build_worker(settings, name, redis)
            if generation:  # back after a Redis error: jobs' heartbeats may have lapsed meanwhile
                worker.back_at = time.monotonic()
            log.info("worker %s on queue %s", worker.name, settings.queue_name)
            began = time.monotonic()
            if run_until_stopped(worker, settings):
                break
            quick_ends = quick_ends + 1 if time.monotonic() - began < WORKER_TTL_S else 1
            delay = backoff(quick_ends)
            log.warning("worker %s left its loop on a Redis error; starts again in %.1f s", name, delay)
            time.sleep(delay)
    except StopRequested:  # SIGTERM while waiting for Redis between two work loops
        log.info("worker %s stopping on request", base_name)
    return 0


def release_scheduler_lock(worker: GifWorker | None) -> None:
    """Free the RQ scheduler lock that the last loop's scheduler child (stopped with the loop) held:
    it could not free it while Redis was away, and the next loop's scheduler, under a new name,
    would wait for it to expire (~60 s) while retries that are due stay in the scheduled registry."""
    if worker is None or worker.scheduler is None:
        return
    try:
        worker.scheduler.release_locks()  # only a lock still ours: another owner's is left alone
    except REDIS_DOWN as exc:
        log.info("worker %s: %s freeing its scheduler lock; it expires on its own", worker.name, exc)


def run_until_stopped(worker: GifWorker, settings: Settings) -> bool:
    """Run RQ's work loop; True if it ended because we were told to stop (SIGTERM)."""
    try:
        worker.work(with_scheduler=True, logging_level=settings.log_level.upper())
    except REDIS_DOWN as exc:  # teardown could not record our death: the key lapses on its own
        log.info("worker %s: %s while leaving its loop", worker.name, type(exc).__name__)
    return worker._stop_requested or worker._shutdown_requested_date is not None


if __name__ == "__main__":
    sys.exit(main())
