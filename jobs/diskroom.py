"""A worker that takes no job while its temp disk is unsafe or nearly full, and says so."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from rq.worker import WorkerStatus

from core import boxes
from jobs import workdir

log = logging.getLogger("jobs.worker")  # the worker's own messages, under its name as before

DISK_CHECK_S = 5.0  # how often a worker paused for disk space looks again


class PausesForDisk:
    """Mixed into an rq Worker (jobs.worker.GifWorker), which sets these attributes."""

    name: str
    box: str
    tmp_root: Path
    min_free_disk_mb: int  # 0: never pause for disk space
    free_disk_mb: int
    paused_for_disk: bool
    disk_check_s: float
    _stop_requested: bool  # RQ's
    heartbeat: Any  # RQ's (GifWorker's)
    set_state: Any  # RQ's

    def wait_for_disk(self, *, burst: bool) -> bool:
        """Wait (heartbeating, shown as suspended) while the temp dir is unsafe or its free space is
        under MIN_FREE_DISK_MB; False if the worker should leave its loop instead (burst mode, or a
        stop was requested)."""
        while reason := self.cannot_take_jobs():
            if not self.paused_for_disk:
                self.paused_for_disk = True
                log.warning("worker %s stops taking jobs: %s", self.name, reason)
                self.set_state(WorkerStatus.SUSPENDED)
            self.heartbeat()
            if burst or self._stop_requested:
                return False
            time.sleep(self.disk_check_s)
        if self.paused_for_disk:
            self.paused_for_disk = False
            log.info(
                "worker %s takes jobs again: %d MB free in %s", self.name, self.free_disk_mb, self.tmp_root
            )
            self.heartbeat()
        return True

    def cannot_take_jobs(self) -> str | None:
        """Why no job may start now (a temp dir not ours alone, too little free space), or None."""
        if problem := workdir.root_problem(self.tmp_root):
            return problem
        if self.disk_low():
            free, least = self.free_disk_mb, self.min_free_disk_mb
            return f"{free} MB free in {self.tmp_root}, under MIN_FREE_DISK_MB={least}"
        return None

    def disk_low(self) -> bool:
        """Measure free temp space; True if it is under the threshold."""
        self.free_disk_mb = workdir.free_mb(self.tmp_root)
        return self.min_free_disk_mb > 0 and self.free_disk_mb < self.min_free_disk_mb

    def publish_status(self, redis: Any) -> None:
        """Publish this worker's box, free temp space and whether it takes jobs (for /healthz)."""
        self.disk_low()
        status = boxes.WorkerStatus(
            self.name,
            self.box,
            not self.paused_for_disk,
            self.free_disk_mb,
            self.min_free_disk_mb,
            time.time(),
        )
        boxes.publish(redis, status)
