"""Run one hardened ffmpeg/ffprobe child: own session, no stdin, a wall-clock timeout, a log-only stderr."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from typing import IO

from core.errors import ConversionTimeout, GifBotError, TransientError
from jobs import lifeline

logger = logging.getLogger(__name__)

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
STDERR_TAIL_LINES = 8


class FFmpegKilled(TransientError):
    """An ffmpeg/ffprobe child was killed by a signal; worth another try."""


class FFmpegFailed(GifBotError):
    """An ffmpeg/ffprobe child exited non-zero; its stderr tail is logged, never carried here."""

    def __init__(self, program: str, returncode: int) -> None:
        super().__init__(f"{program} exited with {returncode}")
        self.returncode = returncode


def run(
    argv: list[str],
    timeout: float,
    on_line: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> None:
    """Run one ffmpeg/ffprobe child in its own session; SIGKILL the whole group after `timeout`.

    Stdout lines go to `on_line` from a reader thread; only a short stderr tail is kept, for the log.
    """
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    proc = _spawn(argv)
    if on_start is not None:
        on_start(proc.pid)
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, on_line), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, lambda s: tail.append(s[:200])), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise ConversionTimeout(f"{argv[0]} ran past {timeout:g}s") from None
    finally:
        if proc.returncode is None:  # timed out, or interrupted (e.g. by RQ's job timeout)
            _kill_group(proc)
        for reader in readers:
            reader.join(5.0)
    if proc.returncode < 0:  # killed by a signal (OOM killer, our parent dying): not the file's fault
        raise FFmpegKilled(f"{argv[0]} killed by signal {-proc.returncode}")
    if proc.returncode != 0:
        logger.warning("%s exited %s; stderr tail: %s", argv[0], proc.returncode, " | ".join(tail))
        raise FFmpegFailed(argv[0], proc.returncode)


def _spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session with stdin from /dev/null and both outputs piped."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # the horse dying (killed, /cancel) takes ffmpeg with it
        preexec_fn=functools.partial(lifeline.die_with_parent, os.getpid()),
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL `proc` and every process in its group (its children too), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _pump(stream: IO[bytes], sink: Callable[[str], None] | None) -> None:
    """Feed each line of `stream` to `sink` until EOF; a failing sink is logged and dropped."""
    with stream:
        for raw in stream:
            if sink is None:
                continue
            try:
                sink(raw.decode("utf-8", "replace").rstrip("\r\n"))
            except Exception:
                logger.exception("output handler failed; draining the rest unread")
                sink = None
