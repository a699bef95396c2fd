"""Run one hardened ffmpeg/ffprobe child: own session, no stdin, capped memory, a wall-clock timeout,
a log-only stderr."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import resource
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import IO

from core.errors import ConversionTimeout, GifBotError, TooMuchMemory
from jobs import lifeline

logger = logging.getLogger(__name__)

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
STDERR_TAIL_LINES = 8
# Address space (RLIMIT_AS) of each child: one conversion can never take the box. The heaviest
# legitimate runs measured peak at ~1.1 GB of it (a 15 s 1080p60 clip at 0.5x, 20 fps, 640 px,
# reversed: 650 MB resident; 4K HEVC 10-bit: 820 MB); virtual size also counts thread stacks and
# malloc arenas, hence the margin.
MEMORY_LIMIT_BYTES = 2 * 1024**3
KILL_RETRIES = 1  # a child killed by a signal runs once more; killed again, it is out of memory
# What ffmpeg and its libraries print when an allocation fails under the limit (a thread whose stack
# cannot be mapped gives EAGAIN). ffmpeg may even exit 0 after one, with its output cut short.
_OUT_OF_MEMORY = re.compile(
    r"cannot allocate memory|out of memory|bad_alloc|enomem|error allocating"
    r"|resource temporarily unavailable",
    re.I,
)
_PIXEL_CAP = re.compile(r"exceeds specified max pixel count")  # libavutil's words for -max_pixels


class FFmpegKilled(GifBotError):
    """An ffmpeg/ffprobe child was killed by a signal (the OOM killer, say): run() tries once more."""


class FFmpegFailed(GifBotError):
    """An ffmpeg/ffprobe child exited non-zero; its stderr tail is logged, never carried here.

    `over_pixel_cap` tells that a decoder refused a picture over -max_pixels on the way.
    """

    def __init__(self, program: str, returncode: int, over_pixel_cap: bool = False) -> None:
        super().__init__(f"{program} exited with {returncode}")
        self.returncode = returncode
        self.over_pixel_cap = over_pixel_cap


def run(
    argv: list[str],
    timeout: float,
    on_line: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> None:
    """Run one ffmpeg/ffprobe child in its own session; SIGKILL the whole group after `timeout`.

    Stdout lines go to `on_line` from a reader thread; only a short stderr tail is kept, for the log.
    Running out of memory (an allocation failing under MEMORY_LIMIT_BYTES, or a kill by a signal
    twice in a row) raises TooMuchMemory; one kill is retried within what is left of `timeout`.
    """
    deadline = time.monotonic() + timeout
    for attempt in range(KILL_RETRIES + 1):
        try:
            _run_once(argv, max(0.0, deadline - time.monotonic()), on_line, on_start)
            return
        except FFmpegKilled as exc:
            if attempt == KILL_RETRIES or deadline - time.monotonic() <= 1.0:
                raise TooMuchMemory(str(exc)) from exc
            logger.warning("%s; running it once more", exc)


def _run_once(
    argv: list[str],
    timeout: float,
    on_line: Callable[[str], None] | None,
    on_start: Callable[[int], None] | None,
) -> None:
    """Run the child once; raise on a timeout, a signal death or a non-zero exit."""
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
    out_of_memory = any(_OUT_OF_MEMORY.search(line) for line in tail)
    if proc.returncode != 0 or out_of_memory:
        logger.warning("%s exited %s; stderr tail: %s", argv[0], proc.returncode, " | ".join(tail))
    if out_of_memory:
        raise TooMuchMemory(f"{argv[0]} ran out of memory (limit {MEMORY_LIMIT_BYTES} bytes)")
    if proc.returncode != 0:
        raise FFmpegFailed(argv[0], proc.returncode, any(_PIXEL_CAP.search(line) for line in tail))


def _spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session with stdin from /dev/null and both outputs piped."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=functools.partial(_in_child, os.getpid(), MEMORY_LIMIT_BYTES),
    )


def _in_child(parent_pid: int, memory_limit: int) -> None:
    """Set up the forked child before exec: cap its address space, tie its life to the parent's."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    lifeline.die_with_parent(parent_pid)  # the horse dying (killed, /cancel) takes ffmpeg with it


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
