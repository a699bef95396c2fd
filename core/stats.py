"""Usage statistics: what the bot and the workers record (core.usage reads it back)."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis

from core import keys
from core.models import Outcome

JOB_RECORD_TTL_S = 30 * 24 * 3600
HOUR_TTL_S = 8 * 24 * 3600
RECENT_JOBS = 50
RECENT_SECONDS = 100
LATENCY_SAMPLES_PER_HOUR = 2000
DEPTH_WINDOW_S = 24 * 3600


@dataclass(frozen=True)
class Profile:
    """Who a Telegram user is, as far as their messages tell (untrusted strings)."""

    user_id: int
    username: str = ""
    first_name: str = ""
    last_name: str = ""
    language: str = ""


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


def record_video(redis: Redis, profile: Profile, job_id: str, size: int, now: float | None = None) -> None:
    """Count a video a user sent and open its job record."""
    now = time.time() if now is None else now
    with redis.pipeline() as pipe:
        _touch(pipe, profile, now)
        pipe.hincrby(keys.user(profile.user_id), "videos", 1)
        pipe.hincrby(keys.user(profile.user_id), "bytes_in", max(size, 0))
        pipe.hincrby(keys.hour(hour_bucket(now)), "videos", 1)
        pipe.expire(keys.hour(hour_bucket(now)), HOUR_TTL_S)
        if job_id:
            record = {"user_id": profile.user_id, "created": now, "status": "queued", "size_in": size}
            pipe.hset(keys.job_record(job_id), mapping=record)
            pipe.expire(keys.job_record(job_id), JOB_RECORD_TTL_S)
            pipe.lpush(keys.user_jobs(profile.user_id), job_id)
            pipe.ltrim(keys.user_jobs(profile.user_id), 0, RECENT_JOBS - 1)
        pipe.execute()


def record_refused(redis: Redis, profile: Profile, reason: str, now: float | None = None) -> None:
    """Count a video refused before any job (too big, banned, over quota)."""
    now = time.time() if now is None else now
    with redis.pipeline() as pipe:
        _touch(pipe, profile, now)
        pipe.hincrby(keys.user(profile.user_id), "videos", 1)
        pipe.hincrby(keys.user(profile.user_id), Outcome.REFUSED.value, 1)
        pipe.hincrby(keys.hour(hour_bucket(now)), "videos", 1)
        pipe.hincrby(keys.hour(hour_bucket(now)), Outcome.REFUSED.value, 1)
        pipe.expire(keys.hour(hour_bucket(now)), HOUR_TTL_S)
        pipe.hset(keys.user(profile.user_id), "last_refusal", reason)
        pipe.execute()


def record_outcome(
    redis: Redis,
    user_id: int,
    job_id: str,
    outcome: Outcome,
    *,
    seconds: float | None = None,
    size_out: int = 0,
    reason: str = "",
    now: float | None = None,
) -> None:
    """Close a job record: how it ended, conversion seconds, GIF size, end-to-end latency."""
    now = time.time() if now is None else now
    created = redis.hget(keys.job_record(job_id), "created")
    latency = now - float(created) if created else None
    bucket = hour_bucket(now)
    update: dict[str, str | float | int] = {"status": outcome.value, "ended": now, "size_out": size_out}
    if seconds is not None:
        update["seconds"] = round(seconds, 3)
    if latency is not None:
        update["latency"] = round(latency, 3)
    if reason:
        update["reason"] = reason
    with redis.pipeline() as pipe:
        pipe.hincrby(keys.user(user_id), outcome.value, 1)
        pipe.hincrby(keys.user(user_id), "bytes_out", size_out)
        pipe.hincrby(keys.hour(bucket), outcome.value, 1)
        pipe.expire(keys.hour(bucket), HOUR_TTL_S)
        if redis.exists(keys.job_record(job_id)):
            pipe.hset(keys.job_record(job_id), mapping=update)
        if seconds is not None:
            pipe.lpush(keys.user_seconds(user_id), round(seconds, 3))
            pipe.ltrim(keys.user_seconds(user_id), 0, RECENT_SECONDS - 1)
            pipe.lpush(keys.RECENT_SECONDS, round(seconds, 3))
            pipe.ltrim(keys.RECENT_SECONDS, 0, RECENT_SECONDS - 1)
        if outcome is Outcome.DELIVERED and latency is not None:
            pipe.lpush(keys.latency(bucket), round(latency, 3))
            pipe.ltrim(keys.latency(bucket), 0, LATENCY_SAMPLES_PER_HOUR - 1)
            pipe.expire(keys.latency(bucket), HOUR_TTL_S)
        pipe.execute()


def typical_seconds(redis: Redis, default: float = 5.0) -> float:
    """Median conversion time of the last jobs (any user), for wait estimates."""
    values = [float(v) for v in redis.lrange(keys.RECENT_SECONDS, 0, -1)]
    return statistics.median(values) if values else default


def record_depth(redis: Redis, depth: int, now: float | None = None) -> None:
    """Sample the queue depth (the scheduler calls this every minute)."""
    now = time.time() if now is None else now
    with redis.pipeline() as pipe:
        pipe.zadd(keys.DEPTH, {f"{now:.0f}:{depth}": now})
        pipe.zremrangebyscore(keys.DEPTH, 0, now - DEPTH_WINDOW_S)
        pipe.execute()


def _touch(pipe, profile: Profile, now: float) -> None:
    key = keys.user(profile.user_id)
    pipe.hset(
        key,
        mapping={
            "username": profile.username,
            "first_name": profile.first_name,
            "last_name": profile.last_name,
            "language": profile.language,
            "last_seen": now,
        },
    )
    pipe.hsetnx(key, "first_seen", now)
    pipe.zadd(keys.USERS, {str(profile.user_id): now})
