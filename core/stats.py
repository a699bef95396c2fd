"""The usage store: what the bot and workers record per user and per job, and how it reads back.

One module owns the field names of the per-user and per-job hashes, so writer and reader agree.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.client import Pipeline

from core import hourly, jobindex, keys, retention
from core.models import Outcome
from core.retention import USER_DATA_TTL_S

JOB_RECORD_TTL_S = 30 * 24 * 3600
RECENT_JOBS = 50
RECENT_SECONDS = 100
# Fields of a user's hash (keys.user) besides the profile and one counter per Outcome value.
VIDEOS, BYTES_IN, BYTES_OUT = "videos", "bytes_in", "bytes_out"
LAST_SEEN, FIRST_SEEN, LAST_REFUSAL = "last_seen", "first_seen", "last_refusal"
TOTAL_FIELDS = (VIDEOS, *(o.value for o in Outcome), BYTES_IN, BYTES_OUT)
VIDEO, VARIANT = "video", "variant"  # job record fields: the cache entry of the job's GIF
FILLED = "filled"  # keys.TOTALS field: when the totals were first added up from every user's hash
# KEYS: keys.TOTALS, keys.USERS; ARGV: the user hash prefix, then TOTAL_FIELDS. Once (an install
# that predates keys.TOTALS): every user's counters added up, atomically, so no write is lost or
# counted twice while it runs.
_FILL_TOTALS = """
if redis.call('hexists', KEYS[1], 'filled') == 1 then return 0 end
local sums = {}
for i = 2, #ARGV do sums[i] = 0 end
for _, id in ipairs(redis.call('zrange', KEYS[2], 0, -1)) do
  local values = redis.call('hmget', ARGV[1] .. id, unpack(ARGV, 2))
  for i = 2, #ARGV do sums[i] = sums[i] + (tonumber(values[i - 1]) or 0) end
end
for i = 2, #ARGV do redis.call('hset', KEYS[1], ARGV[i], string.format('%.0f', sums[i])) end
redis.call('hset', KEYS[1], 'filled', redis.call('time')[1])
return 1
"""


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


def record_video(redis: Redis, profile: Profile, job_id: str, size: int, **video: Any) -> None:
    """add_video on its own: a video answered from the cache, which no transaction queues."""
    with redis.pipeline() as pipe:
        add_video(pipe, profile, job_id, size, **video)
        pipe.execute()


def add_video(
    pipe: Pipeline,
    profile: Profile,
    job_id: str,
    size: int,
    now: float | None = None,
    *,
    ttl_s: int = USER_DATA_TTL_S,
    gif: tuple[str, str] | None = None,
) -> None:
    """Count a video a user sent and open its job record; the user's data lives `ttl_s` more.

    In the caller's pipeline: admission.submit's transaction, so a job is never in RQ without its
    record (one that ended before it had one stayed "queued"). `gif` is the (file_unique_id,
    variant) its GIF is cached under: /forget finds it there."""
    now = time.time() if now is None else now
    _touch(pipe, profile, now)
    _add(pipe, profile.user_id, VIDEOS, 1)
    _add(pipe, profile.user_id, BYTES_IN, max(size, 0))
    hourly.count(pipe, hourly.VIDEOS, now)
    if job_id:
        record: dict[str, str | float | int] = {
            "user_id": profile.user_id,
            "created": now,
            "status": "queued",
            "size_in": size,
        }
        if gif is not None:
            record[VIDEO], record[VARIANT] = gif
        pipe.hset(keys.job_record(job_id), mapping=record)
        pipe.expire(keys.job_record(job_id), JOB_RECORD_TTL_S)
        pipe.lpush(keys.user_jobs(profile.user_id), job_id)
        pipe.ltrim(keys.user_jobs(profile.user_id), 0, RECENT_JOBS - 1)
        jobindex.add(pipe, job_id, now)
    retention.refresh(pipe, profile.user_id, ttl_s)


def record_refused(
    redis: Redis, profile: Profile, reason: str, now: float | None = None, *, ttl_s: int = USER_DATA_TTL_S
) -> None:
    """Count a video refused before any job (too big, banned, over quota)."""
    now = time.time() if now is None else now
    with redis.pipeline() as pipe:
        _touch(pipe, profile, now)
        _add(pipe, profile.user_id, VIDEOS, 1)
        _add(pipe, profile.user_id, Outcome.REFUSED.value, 1)
        hourly.count(pipe, hourly.VIDEOS, now)
        hourly.count(pipe, Outcome.REFUSED.value, now)
        pipe.hset(keys.user(profile.user_id), LAST_REFUSAL, reason)
        retention.refresh(pipe, profile.user_id, ttl_s)
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
    ttl_s: int = USER_DATA_TTL_S,
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
        _add(pipe, user_id, outcome.value, 1)
        _add(pipe, user_id, BYTES_OUT, size_out)
        hourly.count(pipe, outcome.value, now)
        if redis.exists(keys.job_record(job_id)):
            pipe.hset(keys.job_record(job_id), mapping=update)
            pipe.expire(keys.job_record(job_id), JOB_RECORD_TTL_S)
        if seconds is not None:
            for key in (keys.user_seconds(user_id), keys.RECENT_SECONDS):
                pipe.lpush(key, round(seconds, 3))
                pipe.ltrim(key, 0, RECENT_SECONDS - 1)
        if outcome is Outcome.DELIVERED and latency is not None:
            hourly.add_latency(pipe, latency, now)
        retention.refresh(pipe, user_id, ttl_s)
        pipe.execute()


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
    return job_records(redis, [raw.decode() for raw in redis.lrange(keys.user_jobs(user_id), 0, limit - 1)])


def job_records(redis: Redis, job_ids: list[str]) -> list[JobRecord]:
    """The records of these jobs, in the same order; a job whose record expired is left out."""
    with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hgetall(keys.job_record(job_id))
        found = pipe.execute()
    return [
        _job_record(job_id, {k.decode(): v.decode() for k, v in raw.items()})
        for job_id, raw in zip(job_ids, found, strict=True)
        if raw
    ]


def totals(redis: Redis) -> dict[str, int]:
    """All-time videos, outcomes and bytes of every user (kept up at record time, for /metrics)."""
    raw = redis.hmget(keys.TOTALS, [FILLED, *TOTAL_FIELDS])
    if raw[0] is None and fill_totals(redis):
        raw = redis.hmget(keys.TOTALS, [FILLED, *TOTAL_FIELDS])
    return {name: int(value or 0) for name, value in zip(TOTAL_FIELDS, raw[1:], strict=True)}


def fill_totals(redis: Redis) -> bool:
    """Once per install: set the totals to every user's counters added up (an install upgraded
    from a version without keys.TOTALS keeps its all-time figures); False if done before."""
    prefix = keys.user(0).removesuffix("0")
    return bool(redis.eval(_FILL_TOTALS, 2, keys.TOTALS, keys.USERS, prefix, *TOTAL_FIELDS))


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


def _add(pipe: Pipeline, user_id: int, name: str, amount: int) -> None:
    """Add to one of the user's counters and to the same all-time total."""
    pipe.hincrby(keys.user(user_id), name, amount)
    pipe.hincrby(keys.TOTALS, name, amount)


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
