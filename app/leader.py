"""One active bot per token: a lease in Redis that the active bot renews and a standby waits for.

Telegram refuses two getUpdates at once (409), and chat order needs one handler per chat, so only
the lease holder polls and drains the inboxes. A standby (same command, another box) takes over
within LEASE_S + STANDBY_CHECK_S of the active bot's death.
"""

from __future__ import annotations

import logging
import threading
import time

from redis import Redis

from core import keys
from core.connection import REDIS_DOWN

log = logging.getLogger(__name__)
LEASE_S = 10.0
RENEW_EVERY_S = 2.0
STANDBY_CHECK_S = 1.0

# KEYS: the lock; ARGV: our name, lease ms. Take the lease if free, renew it if ours.
_HOLD = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] or not holder then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class Leadership:
    """This process's claim on the bot lease, renewed from a thread while held."""

    def __init__(self, redis: Redis, name: str, lease_s: float = LEASE_S) -> None:
        self.redis = redis
        self.name = name
        self.lease_s = lease_s
        self.valid_until = 0.0  # monotonic time our lease surely lasts until
        self.stopping = threading.Event()
        self.renewer = threading.Thread(target=self._renew_loop, name="bot-lease", daemon=True)
        self.announced = False
        self.redis_away = False  # the last renewal failed on a Redis error, not on another holder

    def held(self) -> bool:
        """True while this process holds a lease that has not lapsed (by our own clock)."""
        return time.monotonic() < self.valid_until

    def may_poll(self) -> bool:
        """True while we hold the lease, or held it when Redis went away and nobody took it since.

        Polling on through a Redis outage lets the bot tell senders their video will be converted
        shortly; no standby can take the lease meanwhile (it needs Redis too). A bot cut off from a
        Redis that others still reach learns of its successor from Telegram's 409 (lose()).
        """
        return self.held() or (self.redis_away and self.announced)

    def lose(self) -> None:
        """Another bot polls this token (Telegram answered 409): stop until we hold the lease again."""
        self.valid_until, self.announced = 0.0, False

    def try_hold(self) -> bool:
        """Take or renew the lease now; on a Redis error keep what we had until it lapses."""
        started = time.monotonic()
        try:
            ours = bool(self.redis.eval(_HOLD, 1, keys.BOT_LOCK, self.name, int(self.lease_s * 1000)))
        except REDIS_DOWN:
            self.redis_away = True
            return self.held()
        self.redis_away = False
        self.valid_until = started + self.lease_s if ours else 0.0
        if ours != self.announced:
            log.info("bot %s is %s", self.name, "now the active bot" if ours else "a standby")
            self.announced = ours
        return ours

    def wait_for_lease(self, stop: threading.Event) -> bool:
        """Block as a standby until this process holds the lease (True) or `stop` is set (False)."""
        while not stop.is_set():
            if self.try_hold():
                if not self.renewer.is_alive():
                    self.renewer.start()
                return True
            stop.wait(STANDBY_CHECK_S)
        return False

    def _renew_loop(self) -> None:
        while not self.stopping.wait(RENEW_EVERY_S):
            self.try_hold()

    def release(self) -> None:
        """Give the lease up at once so a standby takes over without waiting for it to lapse."""
        self.stopping.set()
        self.valid_until = 0.0
        try:
            self.redis.eval(_RELEASE, 1, keys.BOT_LOCK, self.name)
        except REDIS_DOWN:
            log.info("could not release the bot lease; it lapses in %.0f s", self.lease_s)
