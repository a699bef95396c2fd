"""ffprobe children started before their input exists (Warm) and used before they exit (Running)."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from jobs.runner import _kill_group, _signal_group, _spawn, run

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Held:
    """A child started ahead of its input, blocked opening its output FIFO until a reader opens it.

    `adopted`: the worker started it before forking this work horse (jobs.spare), so it is the
    worker's child, not ours: we cannot wait() for it, and read its exit status from /proc instead.
    """

    proc: subprocess.Popen[bytes]
    fifo: Path
    adopted: bool = False


class Warm:
    """ffprobe children started while their input is still downloading; run() takes the one for its
    argv. ffprobe opens its -o output after loading its ~200 shared libraries and reading its options,
    and before it opens its input: with a FIFO as output it waits there, hardened like any child (own
    session, memory cap, dies with us), until run() opens the FIFO. Its start-up (~100-200 ms, most of
    a short probe) is then off the job's path. Children nobody took are killed on close()."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.held: dict[tuple[str, ...], Held] = {}

    def start(self, argv: list[str]) -> None:
        """Start `argv` (an ffprobe whose last argument is its input) to write to a new FIFO,
        unless one is held for it already (adopted from the worker's spare)."""
        if self.holds(argv):
            return
        fifo = self.folder / f"probe-{secrets.token_hex(8)}.out"
        try:
            os.mkfifo(fifo, 0o600)
        except OSError as exc:  # a temp dir that holds no FIFOs: run() starts this one when asked
            logger.info("no FIFO in %s (%s); ffprobe starts cold", self.folder, type(exc).__name__)
            return
        held = [*argv[:-1], "-o", "file:" + str(fifo), argv[-1]]
        self.held[tuple(argv)] = Held(_spawn(held, stdout=subprocess.DEVNULL), fifo)

    def adopt(self, other: Warm) -> None:
        """Hold the children `other` holds (the worker's spare, started before this horse forked)."""
        for argv, held in other.held.items():
            self.held[argv] = replace(held, adopted=True)
        other.held.clear()

    def holds(self, argv: list[str]) -> bool:
        """Whether a child was started for exactly this argv and is not taken yet."""
        return tuple(argv) in self.held

    def take(self, argv: list[str]) -> Held | None:
        """The child started for exactly this argv, if any (each is taken once)."""
        return self.held.pop(tuple(argv), None)

    def close(self) -> None:
        """Kill (and reap) every child nobody took."""
        for held in self.held.values():
            if held.adopted:  # the worker that started it reaps it
                _signal_group(held.proc.pid)
            else:
                _kill_group(held.proc)
            if held.proc.stderr is not None:
                held.proc.stderr.close()
            held.fifo.unlink(missing_ok=True)
        self.held.clear()

    def __enter__(self) -> Warm:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Running:
    """run() on a thread, whose child's whole output can be used before the child has exited.

    An ffprobe closes its output ~4 ms before its exit status is there (it unloads ffmpeg's ~200
    shared libraries, then the kernel unmaps them): output() returns the output as soon as it is
    closed, settle() waits for the exit and raises what run() would have raised."""

    def __init__(self, argv: list[str], timeout: float, warm: Warm | None = None) -> None:
        self._ended = threading.Event()
        self._output: list[str] | None = None
        self._lines: list[str] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(argv, timeout, warm), name=f"{argv[0]}-run", daemon=True
        )
        self._thread.start()

    def _run(self, argv: list[str], timeout: float, warm: Warm | None) -> None:
        try:
            run(argv, timeout, self._lines.append, warm=warm, on_output_end=self._output_closed)
        except BaseException as exc:  # handed to settle()'s caller
            self._error = exc
        finally:
            self._ended.set()

    def _output_closed(self, lines: list[str]) -> None:
        if self._output is None:  # the first try's (a retry after a kill prints the same)
            self._output = list(lines)
        self._ended.set()

    def output(self) -> list[str] | None:
        """The child's whole output once it closed it; None if the run ended without (settle())."""
        self._ended.wait()
        return self._output

    def settle(self) -> list[str]:
        """Wait for the run to end; raise as run() did; return every line it passed on."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._lines


class Later:
    """The exit of probe()'s ffprobe runs, still to come when their output was used.

    `with Later() as later:` around the work that uses probe(..., later=later): when the block
    ends, each run's exit is waited for, and a run that failed raises what probe() would have
    raised, in place of the block's own error (it is the first news, as when it was waited for)."""

    def __init__(self) -> None:
        self._checks: list[tuple[int, Callable[[], None]]] = []
        self._lock = threading.Lock()

    def add(self, order: int, check: Callable[[], None]) -> None:
        """Add a run's check; checks run by `order` (the header's before the decode's)."""
        with self._lock:
            self._checks.append((order, check))

    def settle(self, order: int | None = None) -> None:
        """Wait for every run still to exit (or those added with `order`); raise the first
        failure, in `order`."""
        with self._lock:
            checks = sorted((c for c in self._checks if order in (None, c[0])), key=lambda c: c[0])
            self._checks = [c for c in self._checks if c not in checks]
        for _order, check in checks:
            check()

    def __enter__(self) -> Later:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.settle()
