"""Usage statistics recorded by the bot and the workers, read by the admin panel."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis import Redis

from app import keys
from app.models import Outcome

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


@dataclass(frozen=True)
class UserStats:
    """One user's counters as the admin panel shows them."""

    user_id: int
    username: str = ""
    name: str = ""
    videos: int = 0
    delivered: int = 0
    failed: int = 0
    refused: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    median_seconds: float | None = None
    last_seen: float = 0.0
    banned: bool = False


@dataclass(frozen=True)
class JobRecord:
    """One video's journey: when, how it ended, how long it took, sizes, why it failed."""

    job_id: str
    user_id: int
    created: float
    status: str = "queued"
    ended: float | None = None
    seconds: float | None = None
    latency: float | None = None
    size_in: int = 0
    size_out: int = 0
    reason: str = ""


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


def depth_samples(redis: Redis, since_s: float = DEPTH_WINDOW_S) -> list[tuple[float, int]]:
    """(unix time, queue depth) samples of the last since_s seconds, oldest first."""
    raw = redis.zrangebyscore(keys.DEPTH, time.time() - since_s, "+inf")
    pairs = (item.decode().split(":") for item in raw)
    return [(float(ts), int(depth)) for ts, depth in pairs]


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


def user_stats(redis: Redis, user_id: int) -> UserStats:
    """Read one user's counters (zeros for an unknown user)."""
    raw = {k.decode(): v.decode() for k, v in redis.hgetall(keys.user(user_id)).items()}
    seconds = [float(s) for s in redis.lrange(keys.user_seconds(user_id), 0, -1)]
    count = lambda name: int(raw.get(name, 0))  # noqa: E731
    name = " ".join(p for p in (raw.get("first_name", ""), raw.get("last_name", "")) if p)
    return UserStats(
        user_id=user_id,
        username=raw.get("username", ""),
        name=name,
        videos=count("videos"),
        delivered=count(Outcome.DELIVERED),
        failed=count(Outcome.FAILED),
        refused=count(Outcome.REFUSED),
        bytes_in=count("bytes_in"),
        bytes_out=count("bytes_out"),
        median_seconds=statistics.median(seconds) if seconds else None,
        last_seen=float(raw.get("last_seen", 0)),
        banned=bool(redis.sismember(keys.BANNED, user_id)),
    )


def list_users(redis: Redis, limit: int = 1000) -> list[UserStats]:
    """The most recently seen users (newest first), with their counters."""
    ids = redis.zrevrange(keys.USERS, 0, limit - 1)
    return [user_stats(redis, int(uid)) for uid in ids]


def recent_jobs(redis: Redis, user_id: int, limit: int = RECENT_JOBS) -> list[JobRecord]:
    """A user's most recent jobs, newest first (records older than 30 days are gone)."""
    result = []
    for raw_id in redis.lrange(keys.user_jobs(user_id), 0, limit - 1):
        job_id = raw_id.decode()
        raw = {k.decode(): v.decode() for k, v in redis.hgetall(keys.job_record(job_id)).items()}
        if raw:
            result.append(_job_record(job_id, raw))
    return result


def _job_record(job_id: str, raw: dict[str, str]) -> JobRecord:
    opt = lambda name: float(raw[name]) if raw.get(name) else None  # noqa: E731
    return JobRecord(
        job_id=job_id,
        user_id=int(raw.get("user_id", 0)),
        created=float(raw.get("created", 0)),
        status=raw.get("status", "queued"),
        ended=opt("ended"),
        seconds=opt("seconds"),
        latency=opt("latency"),
        size_in=int(raw.get("size_in", 0)),
        size_out=int(raw.get("size_out", 0)),
        reason=raw.get("reason", ""),
    )


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
        lat = [float(x) for x in redis.lrange(keys.latency(bucket), 0, -1)]
        result.append(
            HourStats(
                start,
                raw.get("videos", 0),
                raw.get(Outcome.DELIVERED, 0),
                raw.get(Outcome.FAILED, 0),
                raw.get(Outcome.REFUSED, 0),
                lat,
            )
        )
    return result


TOTAL_FIELDS = (
    "videos",
    Outcome.DELIVERED.value,
    Outcome.FAILED.value,
    Outcome.REFUSED.value,
    "bytes_in",
    "bytes_out",
)
TOTALS_BATCH = 1000


def totals(redis: Redis) -> dict[str, int]:
    """Every user's counters added up: all-time videos, outcomes and bytes (for /metrics)."""
    result = dict.fromkeys(TOTAL_FIELDS, 0)
    ids = [uid for uid, _ in redis.zscan_iter(keys.USERS)]
    for start in range(0, len(ids), TOTALS_BATCH):
        with redis.pipeline(transaction=False) as pipe:
            for uid in ids[start : start + TOTALS_BATCH]:
                pipe.hmget(keys.user(int(uid)), TOTAL_FIELDS)
            for values in pipe.execute():
                for name, value in zip(TOTAL_FIELDS, values, strict=True):
                    result[name] += int(value or 0)
    return result
