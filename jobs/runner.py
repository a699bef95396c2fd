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
from pathlib import Path
from typing import IO, TYPE_CHECKING

from core.errors import ConversionTimeout, GifBotError, TooMuchMemory
from jobs import binaries, lifeline, stopping

if TYPE_CHECKING:  # jobs.warm imports this module
    from jobs.warm import Held, Warm

logger = logging.getLogger(__name__)

FFMPEG = binaries.ffmpeg()  # the pinned static build, through a link named ffmpeg (jobs.binaries)
# ffmpeg's argv head for every run we build: no stdin, overwrite the output, errors only on stderr
FFMPEG_QUIET = (FFMPEG, "-nostdin", "-y", "-hide_banner", "-nostats", "-loglevel", "error")
FFPROBE = "ffprobe"
STDERR_TAIL_LINES = 8
STDERR_WAIT_STEP_S = 1.0  # _wait: how often a child whose stderr stays open is looked at
# Address space (RLIMIT_AS) of each child: one conversion can never take the box. The heaviest
# legitimate runs measured peak at ~1.1 GB of it (a 15 s 1080p60 clip at 0.5x, 20 fps, 640 px,
# reversed: 650 MB resident; 4K HEVC 10-bit: 820 MB); virtual size also counts thread stacks and
# malloc arenas, hence the margin.
MEMORY_LIMIT_BYTES = 2 * 1024**3
# glibc gives each thread that contends for malloc an arena of its own, each reserving 64 MB of
# address space (up to 8 per core): ffmpeg 9's threads made the heaviest run reserve 1.98 GB of the
# 2 GB above, and more on a box with more cores. Two arenas: 1.50 GB, the same time (README, "Memory").
CHILD_ENV = {"MALLOC_ARENA_MAX": "2"}
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
    warm: Warm | None = None,
    on_output_end: Callable[[list[str]], None] | None = None,
) -> None:
    """Run one ffmpeg/ffprobe child in its own session; SIGKILL the whole group after `timeout`.

    Stdout lines go to `on_line` from a reader thread; only a short stderr tail is kept, for the log.
    Running out of memory (an allocation failing under MEMORY_LIMIT_BYTES, or a kill by a signal
    twice in a row) raises TooMuchMemory; one kill is retried within what is left of `timeout`.
    A child `warm` started ahead for this very argv is used instead of a new one (a retry is cold).
    `on_output_end` gets each try's whole output as soon as the child closed it (see Running).
    """
    deadline = time.monotonic() + timeout
    held = warm.take(argv) if warm is not None else None
    if held is not None and held.adopted:
        try:
            _run_once(argv, timeout, on_line, on_start, held, on_output_end)
            return
        except (lifeline.NoExitStatus, FFmpegKilled) as exc:  # e.g. killed while it waited: run it anew
            logger.warning("a spare %s: %s; starting it anew", argv[0], exc)
        held = None
    for attempt in range(KILL_RETRIES + 1):
        try:
            _run_once(argv, max(0.0, deadline - time.monotonic()), on_line, on_start, held, on_output_end)
            return
        except FFmpegKilled as exc:
            if attempt == KILL_RETRIES or deadline - time.monotonic() <= 1.0:
                raise TooMuchMemory(str(exc)) from exc
            logger.warning("%s; running it once more", exc)
        held = None


def _run_once(
    argv: list[str],
    timeout: float,
    on_line: Callable[[str], None] | None,
    on_start: Callable[[int], None] | None,
    held: Held | None = None,
    on_output_end: Callable[[list[str]], None] | None = None,
) -> None:
    """Run the child once (or let a held one go); raise on a timeout, a signal death or a non-zero exit.

    An adopted child's lines reach `on_line` only once its exit status is known to be read."""
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    proc = held.proc if held is not None else _spawn(argv)
    adopted = held is not None and held.adopted
    kept: list[str] = []
    sink = kept.append if adopted else on_line
    if on_start is not None:
        on_start(proc.pid)
    out = threading.Thread(target=_pump, args=(proc.stdout, sink, on_output_end), daemon=True)
    if held is not None:  # its output is the FIFO: opening it lets the child go on
        out = threading.Thread(target=_pump_fifo, args=(held.fifo, sink, on_output_end), daemon=True)
    readers = [
        out,
        threading.Thread(target=_pump, args=(proc.stderr, lambda s: tail.append(s[:200])), daemon=True),
    ]
    with stopping.signals_held():  # the stops are for the main thread, which waits on the child
        for reader in readers:
            reader.start()
    returncode: int | None = None
    try:
        if adopted:
            returncode = _wait_adopted(proc.pid, readers[1], timeout)
        else:
            returncode = _wait(proc, readers[1], timeout)
    except subprocess.TimeoutExpired:
        raise ConversionTimeout(f"{argv[0]} ran past {timeout:g}s") from None
    finally:
        if returncode is None:  # timed out, or interrupted (e.g. by RQ's job timeout)
            if adopted:
                _signal_group(proc.pid)
            else:
                _kill_group(proc)
        for reader in readers:
            reader.join(5.0 if held is None else 0.5)
        if held is not None:  # a child that died before opening its output leaves the reader waiting
            _unblock_fifo(held.fifo, readers)
    _check(argv, returncode, tail)
    for line in kept if on_line is not None else ():
        on_line(line)


def _wait(proc: subprocess.Popen[bytes], stderr_reader: threading.Thread, timeout: float) -> int:
    """Our child's exit status, seen when its stderr ends (Popen.wait's poll sleeps up to 50 ms);
    a grandchild holding that pipe would hold the end back, so the child is looked at each step."""
    deadline = time.monotonic() + timeout
    while stderr_reader.is_alive() and proc.poll() is None and (left := deadline - time.monotonic()) > 0:
        stderr_reader.join(min(left, STDERR_WAIT_STEP_S))
    return proc.wait(max(0.0, deadline - time.monotonic()))  # exited (or still there: TimeoutExpired)


def _wait_adopted(pid: int, stderr_reader: threading.Thread, timeout: float) -> int:
    """The exit status of the worker's child `pid`: its stderr ends when it exits, then /proc has it."""
    deadline = time.monotonic() + timeout
    stderr_reader.join(timeout)
    return lifeline.exit_status(pid, max(0.0, deadline - time.monotonic()))


def _check(argv: list[str], returncode: int, tail: deque[str]) -> None:
    """Raise for a child that was killed, ran out of memory or exited non-zero."""
    if returncode < 0:  # killed by a signal (OOM killer, our parent dying): not the file's fault
        raise FFmpegKilled(f"{argv[0]} killed by signal {-returncode}")
    out_of_memory = any(_OUT_OF_MEMORY.search(line) for line in tail)
    if returncode != 0 or out_of_memory:
        logger.warning("%s exited %s; stderr tail: %s", argv[0], returncode, " | ".join(tail))
    if out_of_memory:
        raise TooMuchMemory(f"{argv[0]} ran out of memory (limit {MEMORY_LIMIT_BYTES} bytes)")
    if returncode != 0:
        raise FFmpegFailed(argv[0], returncode, any(_PIXEL_CAP.search(line) for line in tail))


def _spawn(argv: list[str], stdout: int = subprocess.PIPE) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session with stdin from /dev/null and its outputs piped."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, **CHILD_ENV},
        preexec_fn=functools.partial(_in_child, os.getpid(), MEMORY_LIMIT_BYTES),
    )


def _in_child(parent_pid: int, memory_limit: int) -> None:
    """Set up the forked child before exec: cap its address space, tie its life to the parent's."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    lifeline.die_with_parent(parent_pid)  # the horse dying (killed, /cancel) takes ffmpeg with it


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL `proc` and every process in its group (its children too), then reap it."""
    _signal_group(proc.pid)
    proc.wait()


def _signal_group(pid: int) -> None:
    """SIGKILL the process group `pid` leads (a child started in its own session), if it is there."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _pump_fifo(
    fifo: Path, sink: Callable[[str], None] | None, ended: Callable[[list[str]], None] | None = None
) -> None:
    """Open a held child's output FIFO (which lets it go on) and _pump() it."""
    with open(fifo, "rb") as stream:
        _pump(stream, sink, ended)


def _unblock_fifo(fifo: Path, readers: list[threading.Thread]) -> None:
    """End a reader still waiting to open `fifo` (its writer never came) by opening it once to write."""
    deadline = time.monotonic() + 5.0
    while any(r.is_alive() for r in readers) and time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # ENXIO: no reader is waiting in open() right now
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        for reader in readers:
            reader.join(0.05)
    fifo.unlink(missing_ok=True)


def _pump(
    stream: IO[bytes], sink: Callable[[str], None] | None, ended: Callable[[list[str]], None] | None = None
) -> None:
    """Feed each line of `stream` to `sink` until EOF (a failing sink is logged and dropped), then
    every line to `ended`, if given."""
    lines: list[str] = []
    with stream:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if ended is not None:
                lines.append(line)
            if sink is None:
                continue
            try:
                sink(line)
            except Exception:
                logger.exception("output handler failed; draining the rest unread")
                sink = None
    if ended is not None:
        ended(lines)
