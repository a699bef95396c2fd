"""Every user's recent jobs in one sorted set (job id -> when it was received), for the admin's job
search. The job records themselves stay in core.stats; this only says which exist and in what order.

Bounded twice: entries older than the job records (30 days) are trimmed at each write, the set never
holds more than MAX_JOBS, and the key expires with its newest entry.
"""

from __future__ import annotations

from redis import Redis
from redis.client import Pipeline

from core import keys

KEEP_S = 30 * 24 * 3600  # as long as a job record lives (core.stats.JOB_RECORD_TTL_S)
MAX_JOBS = 30_000  # 1,000 videos a day for 30 days (~110 bytes each in Redis); then the oldest leave first


def add(pipe: Pipeline | Redis, job_id: str, created: float, *, max_jobs: int = MAX_JOBS) -> None:
    """Index a new job (in the caller's pipeline) and trim the index by age and length."""
    pipe.zadd(keys.RECENT_JOBS, {job_id: created})
    pipe.zremrangebyscore(keys.RECENT_JOBS, "-inf", f"({created - KEEP_S}")
    pipe.zremrangebyrank(keys.RECENT_JOBS, 0, -(max_jobs + 1))
    pipe.expire(keys.RECENT_JOBS, KEEP_S)


def count(redis: Redis, since: float, until: float) -> int:
    """How many indexed jobs were received in [since, until]."""
    return int(redis.zcount(keys.RECENT_JOBS, since, until))


def newest(redis: Redis, since: float, until: float, offset: int = 0, limit: int = 100) -> list[str]:
    """Job ids received in [since, until], newest first, `limit` of them from `offset`."""
    raw = redis.zrevrangebyscore(keys.RECENT_JOBS, until, since, start=offset, num=limit)
    return [job_id.decode() for job_id in raw]
