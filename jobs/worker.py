"""`python -m jobs.worker`: an RQ worker on the gifs queue, tuned to notice dead workers fast."""

from __future__ import annotations

import itertools
import logging
import os
import socket
import sys
import time
from typing import Any

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.serializers import JSONSerializer

from core.admission import gif_queue
from core.connection import REDIS_DOWN, connect
from core.logs import setup_logging
from core.outage import Outage, wait_for_redis
from core.settings import Settings
from jobs import convert, delivery, lifeline, maintenance, runtime, toolbox, workdir

log = logging.getLogger(__name__)

# Crash recovery (README, "Crash recovery"): a job whose worker died is noticed once its
# heartbeat lapses (JOB_MONITORING_INTERVAL_S + HEARTBEAT_GRACE_S) and the next maintenance
# pass (every MAINTENANCE_INTERVAL_S, idle workers wake every WORKER_TTL_S - 15) re-queues it.
JOB_MONITORING_INTERVAL_S = 5
HEARTBEAT_GRACE_S = 10
MAINTENANCE_INTERVAL_S = 15
WORKER_TTL_S = 35
TEMP_SWEEP_EVERY_S = 600  # stale temp dirs of this box are removed this often
PRELOADED = (convert, delivery)  # imported before forking so each work horse starts warm


class GifWorker(Worker):
    """RQ's forking worker with a short job heartbeat (RQ adds a fixed 60 s otherwise) that rides
    out Redis outages: a job in progress keeps running, an idle worker waits for Redis."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outage = Outage(f"worker {self.name}")
        self.back_at = 0.0  # monotonic time Redis last came back after an outage
        self.swept_at = time.monotonic()  # main() swept this box's temp dirs at start

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat, but while Redis is away wait for it (logged once) instead of dying."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            return
        while True:
            try:
                if self.outage.active and not self.connection.hexists(self.key, "birth"):
                    self.register_birth()  # our registration lapsed during the outage: show up again
                super().heartbeat(timeout)
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

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        """Remember our pid so the horse can tell whether we died before it was set up."""
        self.parent_pid = os.getpid()
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
    return GifWorker(
        [gif_queue(redis, settings)],
        connection=redis,
        serializer=JSONSerializer,
        name=name or f"{socket.gethostname()}.{os.getpid()}",
        job_monitoring_interval=JOB_MONITORING_INTERVAL_S,
        maintenance_interval=MAINTENANCE_INTERVAL_S,
        worker_ttl=WORKER_TTL_S,
    )


def main() -> int:
    """Read settings, sweep stale temp files, work until SIGTERM (the current job finishes first)."""
    settings = Settings.from_env(require=("TELEGRAM_BOT_TOKEN",))
    setup_logging(settings, "worker")
    runtime.init(settings)
    toolbox.warm_up()  # before forking: every work horse knows this ffmpeg's decoders and filters
    settings.tmp_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    workdir.sweep(settings.tmp_root, older_than_s=settings.job_timeout * 2)
    redis = connect(settings)
    base_name = settings.worker_name or f"{socket.gethostname()}.{os.getpid()}"
    try:
        for generation in itertools.count():
            wait_for_redis(redis, f"worker {base_name}")
            name = base_name if generation == 0 else f"{base_name}.{generation}"
            worker = build_worker(settings, name, redis)
            log.info("worker %s on queue %s", worker.name, settings.queue_name)
            if run_until_stopped(worker, settings):
                break
            log.warning("worker %s left its loop on a Redis error; starts again once Redis answers", name)
    except StopRequested:  # SIGTERM while waiting for Redis between two work loops
        log.info("worker %s stopping on request", base_name)
    return 0


def run_until_stopped(worker: GifWorker, settings: Settings) -> bool:
    """Run RQ's work loop; True if it ended because we were told to stop (SIGTERM)."""
    try:
        worker.work(with_scheduler=True, logging_level=settings.log_level.upper())
    except REDIS_DOWN as exc:  # teardown could not record our death: the key lapses on its own
        log.info("worker %s: %s while leaving its loop", worker.name, type(exc).__name__)
    return worker._stop_requested or worker._shutdown_requested_date is not None


if __name__ == "__main__":
    sys.exit(main())
