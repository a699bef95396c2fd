"""Usage statistics read back for the admin panel and /stats (core.stats records them)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis import Redis

from core import keys
from core.models import Outcome
from core.stats import DEPTH_WINDOW_S, RECENT_JOBS, percentile


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


def depth_samples(redis: Redis, since_s: float = DEPTH_WINDOW_S) -> list[tuple[float, int]]:
    """(unix time, queue depth) samples of the last since_s seconds, oldest first."""
    raw = redis.zrangebyscore(keys.DEPTH, time.time() - since_s, "+inf")
    pairs = (item.decode().split(":") for item in raw)
    return [(float(ts), int(depth)) for ts, depth in pairs]


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
