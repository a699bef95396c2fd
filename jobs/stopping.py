"""An idle RQ worker that stops when told to, even when the stop's exception is lost on the way.

RQ's SIGTERM handler, in a worker waiting for a job, raises StopRequested wherever the main thread
happens to be. Raised inside a finalizer or an at-fork hook, it is dropped: redis-py's `__del__`
methods run `try: self.close() except Exception: pass`, and whatever a `__del__` or an at-fork
hook lets out is printed and dropped (Python runs the hooks in the worker after each fork of its
spare ffprobe runs). The worker then went on waiting for jobs, deaf to the stop, until supervisord
killed it (loaded test runs: "warm shut down requested", then a minute of waiting).

So the stop of an idle worker is also noted: the next wait for a job is not started, and while
the worker still waits, StopRequested is raised again every STOP_AGAIN_S from SIGALRM. RQ uses
SIGALRM in the worker only while it watches a busy work horse (its death penalty, which then
leaves SIGALRM at its default), so our handler is installed when an idle worker is told to stop.
A fork does not inherit the timer.

Python runs signal handlers only in the main thread, but the kernel may hand SIGTERM to any thread
that does not block it: handed to RQ's pubsub thread, it did not end the main thread's wait for a
job, and an idle worker took up to that wait (~16 s) to stop. So that thread, and the threads that
read a child's pipes (jobs.runner), start with them blocked (signals_held).
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

from rq.exceptions import StopRequested
from rq.worker import WorkerStatus

log = logging.getLogger(__name__)

STOP_AGAIN_S = 0.5
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGALRM}  # RQ's stops, and ours again


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Threads started inside block the stop signals (a thread inherits its starter's mask), so
    the kernel hands those to a thread that acts on them; any that came meanwhile land after."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


class StopsWhenIdle:
    """Mixed into an rq Worker (before it in the bases): a stop while idle cannot be lost."""

    _waiting_for_job = False
    _armed = False  # our SIGALRM timer runs
    _stops_recovered = 0  # stops whose StopRequested was lost, acted on here
    _stop_requested: bool  # RQ's, set by the worker
    get_state: Any  # RQ's

    def _shutdown(self) -> None:
        """RQ's stop (in the signal handler): a busy worker finishes its job, an idle one raises
        StopRequested. Idle, the stop is also noted and raised again until the wait is left."""
        if self.get_state() != WorkerStatus.BUSY:
            self._stop_requested = True
            signal.signal(signal.SIGALRM, self._stop_again)
            signal.setitimer(signal.ITIMER_REAL, STOP_AGAIN_S, STOP_AGAIN_S)
            self._armed = True
        super()._shutdown()

    def subscribe(self) -> None:
        """RQ's pubsub thread (its commands channel), started with the stop signals blocked, so the
        kernel hands them to the main thread, whose wait for a job they then end."""
        with signals_held():
            super().subscribe()  # type: ignore[misc]

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        """RQ's wait for a job, left at once (None: no job) when a stop came before it."""
        if self._stop_requested:  # its StopRequested was lost on the way here
            self._stops_recovered += 1
            return None
        self._waiting_for_job = True
        try:
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        finally:
            self._waiting_for_job = False

    def _stop_again(self, _signum: int, _frame: FrameType | None) -> None:
        """SIGALRM after a stop: the worker still waits for a job, so the first StopRequested was
        lost; raise it again. (No logging here: the main thread may hold logging's lock.)"""
        if self._waiting_for_job and self._stop_requested:
            self._stops_recovered += 1
            raise StopRequested()

    def teardown(self) -> None:
        """The work loop's end: no more SIGALRM of ours, then RQ's teardown."""
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._armed = False
        if self._stops_recovered:
            log.warning("the stop was lost on its way; acted on it %d time(s)", self._stops_recovered)
        super().teardown()
