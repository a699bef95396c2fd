"""Per-attempt temp dirs on the worker's own disk, and the sweep that removes leftovers.

Each attempt of a job gets its own dir (`<job id>.<random>`): two runs of one job on one box (a
re-run after an outage made the first look abandoned) never share or wipe each other's files.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import time
from pathlib import Path

log = logging.getLogger(__name__)
STALE_AFTER_S = 2 * 3600  # no job lives this long (job timeout + retries are far shorter)
MIB = 1024 * 1024


ATTEMPT_NAME = re.compile(r"[A-Za-z0-9_-]+\.[0-9a-f]{8}")
_current: Path | None = None  # the attempt dir of the job this work horse runs


def new_attempt_dir(root: Path, job_id: str) -> Path:
    """Make a fresh, private temp dir for one attempt of a job (job ids are [A-Za-z0-9_-])."""
    global _current
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = root / f"{job_id}.{secrets.token_hex(4)}"
    path.mkdir(mode=0o700)
    _current = path
    return path


def attempt_dir(root: Path, name: str) -> Path | None:
    """The attempt dir called `name` (from a ConversionResult); None for a name that is not one."""
    return root / name if ATTEMPT_NAME.fullmatch(name or "") else None


def current_attempt() -> Path | None:
    """The attempt dir made by this process's job, if any (failure callbacks clean it up)."""
    return _current


def remove_attempts(root: Path, job_id: str) -> None:
    """Remove every attempt dir of a job on this box (its work horse is dead: /cancel, a kill)."""
    if root.is_dir():
        for path in root.glob(f"{job_id}.*"):
            if ATTEMPT_NAME.fullmatch(path.name):
                remove(path)


def remove(path: Path | None) -> None:
    """Remove an attempt dir and everything in it; a missing dir (or None) is fine."""
    if path is not None:
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


def free_mb(root: Path) -> int:
    """Free space, in MiB, on the filesystem that holds `root` (or its nearest existing parent)."""
    while not root.exists() and root != root.parent:
        root = root.parent
    return shutil.disk_usage(root).free // MIB
