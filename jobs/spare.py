"""probe()'s two ffprobe runs, started by the worker while it waits for a job, for the next one.

Each ffprobe start loads ffmpeg's ~200 shared libraries: ~130 ms of CPU before it reads a byte, and
most of a small clip's probe. warm.Warm already starts them while the video downloads, but a
small clip downloads faster than that. So the worker (the parent of every work horse) keeps one
spare pair, started on an input path that no file has yet: each blocks on its output FIFO until a
reader opens it (see warm.Warm). The next work horse, forked from the worker, adopts them: it
downloads the video to that path and lets them go. The worker reaps them after the horse is done
and starts the next pair while it waits for the next job; a job that did not touch its spare
leaves it for the one after. Without ffprobe -o (FFmpeg < 5.0), or with an unsafe temp root,
there is no spare and every job starts its own, as before.

A spare lives in `<temp root>/spare-<worker pid>-<random>` (0700), which workdir.sweep leaves
alone while that worker lives; the video is removed with it.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from jobs import probe, toolbox, workdir
from jobs.recipe import Limits
from jobs.warm import Warm

log = logging.getLogger(__name__)

INPUT_NAME = "in"


@dataclass
class Spare:
    """A spare pair: the folder, the input path the pair will read, the children."""

    folder: Path
    src: Path
    warm: Warm

    def touched(self) -> bool:
        """Whether a job used it (its input came, or a child ended or was let go)."""
        held = self.warm.held.values()
        return self.src.exists() or any(h.proc.poll() is not None for h in held) or not held


_spare: Spare | None = None  # the worker's spare; a work horse's copy is its own to take


def start(root: Path, limits: Limits | None) -> None:
    """In the worker, between jobs: start a spare pair unless one is waiting (none without limits)."""
    global _spare
    if (
        _spare is not None
        or limits is None
        or not toolbox.ffprobe_writes_to_file()
        or workdir.root_problem(root)
    ):
        return
    folder = root / f"{workdir.SPARE_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        folder.mkdir(mode=0o700)
    except OSError as exc:
        log.info("no spare ffprobe runs: %s", type(exc).__name__)
        return
    warm = Warm(folder)
    src = folder / INPUT_NAME
    probe.warm_up(src, limits, warm)
    _spare = Spare(folder, src, warm)


def after_job(root: Path, limits: Limits | None) -> None:
    """In the worker, once a work horse is done: replace the spare if its job used it."""
    if _spare is not None and _spare.touched():
        close()
    start(root, limits)


def close() -> None:
    """In the worker: kill and reap the spare pair, remove its folder (and any video in it)."""
    global _spare
    spare, _spare = _spare, None
    if spare is not None:
        spare.warm.close()
        shutil.rmtree(spare.folder, ignore_errors=True)


def take() -> Spare | None:
    """In a work horse: the spare the worker started before forking it, once (None if none)."""
    global _spare
    spare, _spare = _spare, None
    if spare is None or not all(held.fifo.exists() for held in spare.warm.held.values()):
        return None  # none, or its FIFOs are gone: a run waiting on one would never start
    return spare
