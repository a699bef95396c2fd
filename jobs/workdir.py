"""Per-attempt temp dirs on the worker's own disk, and the sweep that removes leftovers.

Each attempt of a job gets its own dir (`<job id>.<random>`): two runs of one job on one box (a
re-run after an outage made the first look abandoned) never share or wipe each other's files.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import stat
import time
from pathlib import Path

log = logging.getLogger(__name__)
STALE_AFTER_S = 2 * 3600  # no job lives this long (job timeout + retries are far shorter)
MIB = 1024 * 1024


ATTEMPT_NAME = re.compile(r"[A-Za-z0-9_-]+\.[0-9a-f]{8}")
SPARE_PREFIX = "spare-"  # jobs.spare's folders: spare-<worker pid>-<random>
# A pid is never 0 (kill(0, 0) would ask about our own process group and say "alive" for ever).
_SPARE_NAME = re.compile(rf"{SPARE_PREFIX}([1-9][0-9]*)-[0-9a-f]+")
_current: Path | None = None  # the attempt dir of the job this work horse runs


class UnsafeTempRoot(Exception):
    """The temp root is not a private dir of this process's user, so no job may put files in it."""


def root_problem(root: Path) -> str | None:
    """Make the temp root (0700) if it is missing; say why it is unsafe to use, or None if it is
    a real directory owned by this process's user that no group or other user may write to (one
    another local user made first could hand our files and GIFs to that user)."""
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = root.lstat()
    except OSError as exc:
        return f"temp dir {root} cannot be made: {exc.strerror or exc}"
    if not stat.S_ISDIR(info.st_mode):
        return f"temp dir {root} is not a directory (a symlink?)"
    if info.st_uid != os.geteuid():
        return f"temp dir {root} is owned by uid {info.st_uid}, not by this process's (uid {os.geteuid()})"
    if info.st_mode & 0o022:
        return f"temp dir {root} is writable by its group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def new_attempt_dir(root: Path, job_id: str) -> Path:
    """Make a fresh, private temp dir for one attempt of a job (job ids are [A-Za-z0-9_-]);
    UnsafeTempRoot if the temp root is not ours alone."""
    global _current
    if problem := root_problem(root):
        raise UnsafeTempRoot(problem)
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
    """Remove job dirs not touched for older_than_s seconds; returns how many went. A temp root
    that is not ours alone is left untouched (and said so)."""
    if problem := root_problem(root):
        log.error("%s: not sweeping it, and no job uses it; remove it or set GIFBOT_TMP_DIR", problem)
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for entry in root.iterdir():
        try:
            if entry.stat().st_mtime < cutoff and not _live_spare(entry.name):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                removed += 1
        except OSError as exc:
            log.warning("sweep could not remove %s: %s", entry.name, type(exc).__name__)
    if removed:
        log.info("sweep removed %d stale temp entries", removed)
    return removed


def _live_spare(name: str) -> bool:
    """Whether `name` is the spare folder of a worker that still runs (it may wait for hours)."""
    found = _SPARE_NAME.fullmatch(name)
    if found is None:
        return False
    try:
        os.kill(int(found.group(1)), 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def free_mb(root: Path) -> int:
    """Free space, in MiB, on the filesystem that holds `root` (or its nearest existing parent)."""
    while not root.exists() and root != root.parent:
        root = root.parent
    return shutil.disk_usage(root).free // MIB
