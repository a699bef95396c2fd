"""`python -m jobs.worker`: an RQ worker on the gifs queue, tuned to notice dead workers fast."""

from __future__ import annotations

import logging
import os
import socket
import sys

from rq import Queue, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from core.admission import gif_queue
from core.connection import connect
from core.logs import setup_logging
from core.settings import Settings
from jobs import convert, delivery, lifeline, maintenance, runtime, workdir

log = logging.getLogger(__name__)

# Crash recovery (README, "Crash recovery"): a job whose worker died is noticed once its
# heartbeat lapses (JOB_MONITORING_INTERVAL_S + HEARTBEAT_GRACE_S) and the next maintenance
# pass (every MAINTENANCE_INTERVAL_S, idle workers wake every WORKER_TTL_S - 15) re-queues it.
JOB_MONITORING_INTERVAL_S = 5
HEARTBEAT_GRACE_S = 10
MAINTENANCE_INTERVAL_S = 15
WORKER_TTL_S = 35
PRELOADED = (convert, delivery)  # imported before forking so each work horse starts warm


class GifWorker(Worker):
    """RQ's forking worker with a short job heartbeat (RQ adds a fixed 60 s otherwise)."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """Heartbeat TTL: monitoring interval plus a small grace, not plus 60 s."""
        return self.job_monitoring_interval + HEARTBEAT_GRACE_S

    def clean_registries(self) -> None:
        """RQ's maintenance pass, plus putting back jobs a dead worker took but never started."""
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


def build_worker(settings: Settings, name: str | None = None) -> GifWorker:
    """A worker on settings.queue_name with the JSON serializer and fast crash detection."""
    redis = connect(settings)
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
    settings.tmp_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    workdir.sweep(settings.tmp_root, older_than_s=settings.job_timeout * 2)
    worker = build_worker(settings, settings.worker_name or None)
    log.info("worker %s on queue %s", worker.name, settings.queue_name)
    worker.work(with_scheduler=True, logging_level=settings.log_level.upper())
    return 0


if __name__ == "__main__":
    sys.exit(main())
