"""/forget: delete one user's data from Redis, keeping an admin's decisions and anonymous totals.

Deleted: the profile and counters, recent job ids and conversion times, /settings, slots and the
waiting list, the user's entries in the users index and the active-users set, and for each of
their ended jobs (the last 50 listed, plus any other job of their private chat, found by SCAN):
its record, its per-message markers, RQ's job data (with any execution record RQ's own heartbeat
wrote back after the job ended: see _stray_executions) and the GIF cache entry it made; and the
recipes kept for the tweak buttons under their GIFs (core.redo, listed per user, in any chat).
Kept: bans and quota overrides (keys.BANNED, keys.quota: an admin's decisions), the all-time
totals and hour counters (anonymous), and the hourly quota counter (2 h; deleting it would reset
the user's limit). A job that has not ended is left alone: the bot stops it first (app.privacy).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from redis import Redis
from rq.defaults import RQ_KEY_PREFIX
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from core import keys, redo, retention, stats
from core.models import message_of

SCAN_COUNT = 1000
ENDED = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED})
EXECUTION_PREFIX = f"{RQ_KEY_PREFIX}:execution:"  # rq.executions.Execution.key: ...:<job id>:<execution id>
JOB_KEYS = (keys.job_record, keys.queued, keys.sent, keys.status, keys.told, keys.stuck, keys.meme_text)


@dataclass(frozen=True)
class Erased:
    """What /forget deleted: keys in all, jobs, and GIF cache entries."""

    keys: int
    jobs: int
    gifs: int


def user_data_keys(user_id: int) -> tuple[str, ...]:
    """The user's own keys (not their jobs'); bans, quota overrides and hour counters are not here."""
    return (*retention.user_keys(user_id), keys.user_active(user_id), keys.user_pending(user_id))


def erase_user(redis: Redis, user_id: int) -> Erased:
    """Delete everything Redis holds about this user except an admin's decisions; see the module."""
    doomed, gifs, erased = [*user_data_keys(user_id), *redo.user_record_keys(redis, user_id)], set[str](), []
    for job_id in sorted(job_ids_of(redis, user_id)):
        job = _rq_job(redis, job_id)
        if job is not None and job.get_status(refresh=False) not in ENDED:
            continue  # still queued or running: its worker writes its outcome
        video, variant, owner = redis.hmget(keys.job_record(job_id), stats.VIDEO, stats.VARIANT, "user_id")
        if owner is not None and int(owner) != user_id:
            continue  # another user's video in a chat this user shares
        if video and variant:
            gifs.add(keys.cache(video.decode(), variant.decode()))
        if job is not None:
            job.delete()
        doomed += [key(job_id) for key in JOB_KEYS]
        erased.append(job_id)
    doomed += _stray_executions(redis, set(erased))
    with redis.pipeline() as pipe:
        pipe.delete(*doomed, *gifs)
        pipe.zrem(keys.USERS, user_id)
        pipe.srem(keys.ACTIVE_USERS, user_id)
        if erased:  # the admin's job search no longer lists them
            pipe.zrem(keys.RECENT_JOBS, *erased)
        deleted = pipe.execute()[0]
    return Erased(int(deleted), len(erased), len(gifs))


def settled(redis: Redis, user_id: int, job_ids: list[str]) -> bool:
    """True once the user holds no slot and each of these jobs has ended (or is gone) in RQ."""
    if redis.zcard(keys.user_active(user_id)):
        return False
    jobs = [_rq_job(redis, job_id) for job_id in job_ids]
    return all(job is None or job.get_status(refresh=False) in ENDED for job in jobs)


def job_ids_of(redis: Redis, user_id: int) -> set[str]:
    """The user's listed recent jobs, and every job of their private chat that left a key."""
    listed = {raw.decode() for raw in redis.lrange(keys.user_jobs(user_id), 0, -1)}
    return listed | set(_private_chat_jobs(redis, user_id))


def _private_chat_jobs(redis: Redis, user_id: int) -> Iterator[str]:
    """Job ids of the user's private chat (its id is theirs) named in any key: gifbot's or RQ's."""
    if user_id <= 0:
        return
    for raw in redis.scan_iter(match=f"*:gif_{user_id}_*", count=SCAN_COUNT):
        for part in raw.decode().split(":"):
            message = message_of(part)
            if message is not None and message[0] == user_id:
                yield part


def _stray_executions(redis: Redis, job_ids: set[str]) -> list[str]:
    """The `rq:execution:<job>:<id>` keys of these (ended) jobs, found by one SCAN.

    RQ's work horse deletes an execution when its job ends, but the worker's heartbeat (HSET and
    EXPIRE, on its own timer) can land just after and write the key back with only its last
    heartbeat, listed in no registry, so job.delete() does not find it. It would expire with the
    heartbeat TTL; /forget deletes it now."""
    if not job_ids:
        return []
    found = (raw.decode() for raw in redis.scan_iter(match=f"{EXECUTION_PREFIX}*", count=SCAN_COUNT))
    return [key for key in found if key[len(EXECUTION_PREFIX) :].rpartition(":")[0] in job_ids]


def _rq_job(redis: Redis, job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
    except NoSuchJobError:
        return None
