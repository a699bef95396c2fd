"""Traffic per UTC hour and the queue-depth samples: what the panel's charts are drawn from."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis import Redis
from redis.client import Pipeline

from core import keys
from core.models import Outcome

HOUR_TTL_S = 8 * 24 * 3600
LATENCY_SAMPLES_PER_HOUR = 2000
DEPTH_WINDOW_S = 24 * 3600
VIDEOS = "videos"  # hour hash field: videos received; the others are Outcome values


@dataclass(frozen=True)
class HourStats:
    """Counters and delivery latency of one UTC hour."""

    start: datetime
    videos: int = 0
    delivered: int = 0
    failed: int = 0
    refused: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float | None:
        return percentile(self.latencies, 50)

    @property
    def p95(self) -> float | None:
        return percentile(self.latencies, 95)


def hour_bucket(ts: float | None = None) -> str:
    """The UTC hour a unix time falls in, as YYYYMMDDHH."""
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).strftime("%Y%m%d%H")


def percentile(values: list[float], pct: float) -> float | None:
    """The pct-th percentile (nearest rank) of values, None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


def count(pipe: Pipeline, name: str, now: float) -> None:
    """Add one to counter `name` of the hour `now` falls in (in the caller's pipeline)."""
    bucket = keys.hour(hour_bucket(now))
    pipe.hincrby(bucket, name, 1)
    pipe.expire(bucket, HOUR_TTL_S)


def add_latency(pipe: Pipeline, seconds: float, now: float) -> None:
    """Keep one delivered GIF's end-to-end seconds in its hour's sample list."""
    key = keys.latency(hour_bucket(now))
    pipe.lpush(key, round(seconds, 3))
    pipe.ltrim(key, 0, LATENCY_SAMPLES_PER_HOUR - 1)
    pipe.expire(key, HOUR_TTL_S)


def hourly(redis: Redis, hours: int = 24, now: float | None = None) -> list[HourStats]:
    """Counters and latencies of the last `hours` UTC hours, oldest first."""
    end = datetime.fromtimestamp(time.time() if now is None else now, UTC).replace(
        minute=0, second=0, microsecond=0
    )
    result = []
    for i in range(hours - 1, -1, -1):
        start = end - timedelta(hours=i)
        bucket = start.strftime("%Y%m%d%H")
        raw = {k.decode(): int(v) for k, v in redis.hgetall(keys.hour(bucket)).items()}
        latencies = [float(x) for x in redis.lrange(keys.latency(bucket), 0, -1)]
        counts = [raw.get(name, 0) for name in (VIDEOS, Outcome.DELIVERED, Outcome.FAILED, Outcome.REFUSED)]
        result.append(HourStats(start, *counts, latencies))
    return result


def record_depth(redis: Redis, depth: int, now: float | None = None) -> None:
    """Sample the queue depth (the scheduler calls this every minute)."""
    now = time.time() if now is None else now
    with redis.pipeline() as pipe:
        pipe.zadd(keys.DEPTH, {f"{now:.0f}:{depth}": now})
        pipe.zremrangebyscore(keys.DEPTH, 0, now - DEPTH_WINDOW_S)
        pipe.execute()


def depth_samples(redis: Redis, since_s: float = DEPTH_WINDOW_S) -> list[tuple[float, int]]:
    """(unix time, queue depth) samples of the last since_s seconds, oldest first."""
    raw = redis.zrangebyscore(keys.DEPTH, time.time() - since_s, "+inf")
    pairs = (item.decode().split(":") for item in raw)
    return [(float(ts), int(depth)) for ts, depth in pairs]
