"""The usage store: what the bot and workers record per user and per job, and how it reads back.

One module owns the field names of the per-user and per-job hashes, so writer and reader agree.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from redis import Redis
from redis.client import Pipeline

from core import hourly, keys
from core.models import Outcome

JOB_RECORD_TTL_S = 30 * 24 * 3600
RECENT_JOBS = 50
RECENT_SECONDS = 100
TOTALS_BATCH = 1000
# Fields of a user's hash (keys.user) besides the profile and one counter per Outcome value.
VIDEOS, BYTES_IN, BYTES_OUT = "videos", "bytes_in", "bytes_out"
LAST_SEEN, FIRST_SEEN, LAST_REFUSAL = "last_seen", "first_seen", "last_refusal"
TOTAL_FIELDS = (VIDEOS, *(o.value for o in Outcome), BYTES_IN, BYTES_OUT)


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
    """One user's counters as the admin panel and /stats show them."""

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


def record_video(redis: Redis, profile: Profile, job_id: str, size: int, now: float | None = None) -> None:
    """Count a video a user sent and open its job record."""
    now = time.time() if now is None else now
    with redis.pipeline() as pipe:
        _touch(pipe, profile, now)
        pipe.hincrby(keys.user(profile.user_id), VIDEOS, 1)
        pipe.hincrby(keys.user(profile.user_id), BYTES_IN, max(size, 0))
        hourly.count(pipe, hourly.VIDEOS, now)
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
        pipe.hincrby(keys.user(profile.user_id), VIDEOS, 1)
        pipe.hincrby(keys.user(profile.user_id), Outcome.REFUSED.value, 1)
        hourly.count(pipe, hourly.VIDEOS, now)
        hourly.count(pipe, Outcome.REFUSED.value, now)
        pipe.hset(keys.user(profile.user_id), LAST_REFUSAL, reason)
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
    update: dict[str, str | float | int] = {"status": outcome.value, "ended": now, "size_out": size_out}
    if seconds is not None:
        update["seconds"] = round(seconds, 3)
    if latency is not None:
        update["latency"] = round(latency, 3)
    if reason:
        update["reason"] = reason
    with redis.pipeline() as pipe:
        pipe.hincrby(keys.user(user_id), outcome.value, 1)
        pipe.hincrby(keys.user(user_id), BYTES_OUT, size_out)
        hourly.count(pipe, outcome.value, now)
        if redis.exists(keys.job_record(job_id)):
            pipe.hset(keys.job_record(job_id), mapping=update)
        if seconds is not None:
            for key in (keys.user_seconds(user_id), keys.RECENT_SECONDS):
                pipe.lpush(key, round(seconds, 3))
                pipe.ltrim(key, 0, RECENT_SECONDS - 1)
        if outcome is Outcome.DELIVERED and latency is not None:
            hourly.add_latency(pipe, latency, now)
        pipe.execute()


def typical_seconds(redis: Redis, default: float = 5.0) -> float:
    """Median conversion time of the last jobs (any user), for wait estimates."""
    values = [float(v) for v in redis.lrange(keys.RECENT_SECONDS, 0, -1)]
    return statistics.median(values) if values else default


def user_language(redis: Redis, user_id: int) -> str:
    """The Telegram language_code a user's last message carried ("" if unknown)."""
    value = redis.hget(keys.user(user_id), "language")
    return value.decode() if value else ""


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
        videos=count(VIDEOS),
        delivered=count(Outcome.DELIVERED),
        failed=count(Outcome.FAILED),
        refused=count(Outcome.REFUSED),
        bytes_in=count(BYTES_IN),
        bytes_out=count(BYTES_OUT),
        median_seconds=statistics.median(seconds) if seconds else None,
        last_seen=float(raw.get(LAST_SEEN, 0)),
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


def _touch(pipe: Pipeline, profile: Profile, now: float) -> None:
    key = keys.user(profile.user_id)
    profile_fields = {
        "username": profile.username,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "language": profile.language,
        LAST_SEEN: now,
    }
    pipe.hset(key, mapping=profile_fields)
    pipe.hsetnx(key, FIRST_SEEN, now)
    pipe.zadd(keys.USERS, {str(profile.user_id): now})
