"""Riding out a Redis outage: capped, jittered backoff, one log line when Redis goes, one when back.

No process exits because Redis is away; each waits with this backoff and resumes on its own.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from redis import Redis

from core.connection import REDIS_DOWN

log = logging.getLogger(__name__)
T = TypeVar("T")
BACKOFF_FIRST_S = 0.5
BACKOFF_CAP_S = 10.0


def backoff(failures: int) -> float:
    """Seconds to wait after `failures` failures in a row: doubling, capped, with jitter."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_FIRST_S * 2 ** max(0, failures - 1))
    return ceiling * random.uniform(0.5, 1.0)


class Outage:
    """Tracks one process's view of Redis: logs the start and the end of an outage, once each."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.since: float | None = None
        self.failures = 0

    @property
    def active(self) -> bool:
        """True between a failed Redis call and the next one that succeeds."""
        return self.since is not None

    def failed(self, exc: BaseException) -> float:
        """Note a failed Redis call; return how long to back off before the next try."""
        if self.since is None:
            self.since = time.monotonic()
            log.warning("redis unreachable (%s): %s waits and retries", type(exc).__name__, self.what)
        self.failures += 1
        return backoff(self.failures)

    def recovered(self) -> None:
        """Note a Redis call that worked; log the outage's end if there was one."""
        if self.since is not None:
            log.warning("redis is back after %.1f s: %s resumes", time.monotonic() - self.since, self.what)
        self.since, self.failures = None, 0


def wait_for_redis(redis: Redis, what: str, stop: threading.Event | None = None) -> bool:
    """Block until Redis answers PING (True), or until `stop` is set (False)."""
    outage = Outage(what)
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            redis.ping()
        except REDIS_DOWN as exc:
            stop.wait(outage.failed(exc))
            continue
        outage.recovered()
        return True
    return False


def persist(fn: Callable[[], T], what: str, deadline_s: float) -> T:
    """Run a Redis call until it works, backing off while Redis is away, for at most `deadline_s`.

    For writes that must land (a GIF was sent: record it), the last error is raised at the deadline.
    """
    outage, give_up = Outage(what), time.monotonic() + deadline_s
    while True:
        try:
            result = fn()
        except REDIS_DOWN as exc:
            delay = outage.failed(exc)
            if time.monotonic() + delay > give_up:
                raise
            time.sleep(delay)
            continue
        outage.recovered()
        return result
