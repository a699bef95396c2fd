"""Per-job temp dirs on the worker's own disk, and the sweep that removes leftovers."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

log = logging.getLogger(__name__)
STALE_AFTER_S = 2 * 3600  # no job lives this long (job timeout + retries are far shorter)


def job_dir(root: Path, job_id: str) -> Path:
    """The temp dir of one job; job ids are [A-Za-z0-9_-] so this stays under root."""
    return root / job_id


def fresh_job_dir(root: Path, job_id: str) -> Path:
    """Empty temp dir for a job attempt (an earlier attempt's leftovers are removed)."""
    path = job_dir(root, job_id)
    remove(path)
    path.mkdir(parents=True, mode=0o700)
    return path


def remove(path: Path) -> None:
    """Remove a job dir and everything in it; a missing dir is fine."""
    shutil.rmtree(path, ignore_errors=True)


def sweep(root: Path, older_than_s: float = STALE_AFTER_S) -> int:
    """Remove job dirs not touched for older_than_s seconds; returns how many went."""
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for entry in root.iterdir():
        try:
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                removed += 1
        except OSError as exc:
            log.warning("sweep could not remove %s: %s", entry.name, type(exc).__name__)
    if removed:
        log.info("sweep removed %d stale temp entries", removed)
    return removed
