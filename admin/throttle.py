"""Slow down password guessing: failed logins per client address, counted in Redis.

The count lives in Redis so every gunicorn worker sees it. The window slides: each failure
restarts it, so a client that keeps guessing stays locked out.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from core import keys

MAX_FAILURES = 5
WINDOW_S = 15 * 60


def failures_key(client: str) -> str:
    """Counter: failed logins from one client address."""
    return keys.admin_login_fails(client)


@dataclass(frozen=True)
class LoginThrottle:
    """Failed-login bookkeeping for one client address."""

    redis: Redis
    client: str

    def blocked_for(self) -> int:
        """Seconds until this client may try again (0: it may try now)."""
        key = failures_key(self.client)
        if int(self.redis.get(key) or 0) < MAX_FAILURES:
            return 0
        return max(int(self.redis.ttl(key)), 1)

    def failed(self) -> None:
        """Count one failed attempt."""
        key = failures_key(self.client)
        with self.redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_S)
            pipe.execute()

    def succeeded(self) -> None:
        """Forget this client's failures."""
        self.redis.delete(failures_key(self.client))
