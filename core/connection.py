"""The Redis connection every process uses, with timeouts that keep a dead Redis from hanging us."""

from __future__ import annotations

import redis.exceptions
from redis import Redis

from core.settings import Settings

SOCKET_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 2.0
HEALTH_CHECK_INTERVAL_S = 15
# What "Redis is away" looks like to a client: a refused or dropped connection, or no answer in time.
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def connect(settings: Settings) -> Redis:
    """Return a Redis client for settings.redis_url (no round trip is made here)."""
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        health_check_interval=HEALTH_CHECK_INTERVAL_S,
    )
