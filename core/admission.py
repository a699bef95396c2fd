"""Put conversions on the queue: once per Telegram message, a few per user at a time, fairly.

Each user has at most `max_active` jobs in RQ; further videos wait in a per-user list and are
queued one by one as that user's jobs end (`release`). So one user's burst of 20 cannot sit in
front of everyone else: another user's video is queued behind at most `max_active` of theirs.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from enum import StrEnum

from redis import Redis, WatchError
from redis.client import Pipeline
from rq import Callback, Queue, Retry
from rq.serializers import JSONSerializer
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from core import keys, markers
from core.contract import JOB_DESCRIPTION, JOB_FUNC, ON_FAILURE, ON_STOPPED, ON_SUCCESS
from core.limits import UserLimits
from core.models import ConversionRequest
from core.settings import Settings

# RQ's worker kills a work horse at job timeout + 60 s, and the success callback (the upload) runs
# in that horse after the job: the job's own work gets what is left (jobs.convert.work_deadline).
RQ_HORSE_GRACE_S = 60
SUCCESS_CALLBACK_TIMEOUT_S = 150  # an upload of up to 50 MB, plus waiting out a 429
MIN_WORK_S = 30  # a job timeout too small for both still gives the download and conversion this long
DEADLINE_MARGIN_S = 10  # between the end of the job's work and the start of the upload, at the least
FAILURE_CALLBACK_TIMEOUT_S = 60
RESULT_TTL_S = 24 * 3600
FAILURE_TTL_S = 7 * 24 * 3600
STALE_ACTIVE_S = 3 * 3600  # a slot held this long belongs to a job that was lost; free it


class Admission(StrEnum):
    """What became of a submitted video."""

    QUEUED = "queued"  # in RQ now
    WAITING = "waiting"  # in the user's waiting list; queued when a slot frees
    DUPLICATE = "duplicate"  # this message was submitted before (re-delivered update)
    FULL = "full"  # the user's waiting list is full; refused


def success_callback_timeout(job_timeout: int) -> int:
    """The upload's time: SUCCESS_CALLBACK_TIMEOUT_S, less if a small job timeout leaves the horse
    less, so MIN_WORK_S of work and the upload both end before RQ kills the horse."""
    return min(SUCCESS_CALLBACK_TIMEOUT_S, job_timeout + RQ_HORSE_GRACE_S - DEADLINE_MARGIN_S - MIN_WORK_S)


def gif_queue(redis: Redis, settings: Settings) -> Queue:
    """The conversion queue, with the JSON serializer every process uses."""
    return Queue(settings.queue_name, connection=redis, serializer=JSONSerializer)


def submit(
    queue: Queue,
    request: ConversionRequest,
    settings: Settings,
    limits: UserLimits,
    admitted: Callable[[Pipeline], None] | None = None,
) -> Admission:
    """Queue the video now if the user has a free slot, else put it in their waiting list.

    Slots freed by lost jobs (held past STALE_ACTIVE_S) go to videos already waiting, oldest first.
    `admitted` adds its commands (the video's record) to the transaction of a video queued or
    waiting: a worker may take the job the moment it is queued, even end it.
    """
    active, waiting = keys.user_active(request.user_id), keys.user_pending(request.user_id)
    marker = keys.queued(request.job_id)
    with queue.connection.pipeline() as pipe:
        while True:
            try:
                pipe.watch(active, waiting, marker)
                if pipe.exists(marker):
                    return Admission.DUPLICATE
                cutoff = time.time() - STALE_ACTIVE_S
                free = max(0, limits.max_active - pipe.zcount(active, f"({cutoff}", "+inf"))
                heads = pipe.lrange(waiting, 0, free - 1) if free else []
                room = free - len(heads)
                full = not room and pipe.llen(waiting) - len(heads) >= limits.max_pending
                pipe.multi()
                pipe.zremrangebyscore(active, 0, cutoff)
                _promote(queue, pipe, waiting, heads, settings)
                outcome = Admission.FULL if full else Admission.QUEUED if room else Admission.WAITING
                if outcome is Admission.QUEUED:
                    _enqueue(queue, request, settings, pipe)
                elif outcome is Admission.WAITING:
                    pipe.rpush(waiting, json.dumps(request.to_kwargs()))
                    pipe.expire(waiting, settings.user_data_ttl_s)
                if outcome is not Admission.FULL:
                    markers.mark_queued(pipe, request.job_id)
                    if admitted is not None:
                        admitted(pipe)
                pipe.execute()
                return outcome
            except WatchError:
                continue


def _promote(queue: Queue, pipe: Pipeline, waiting: str, heads: list[bytes], settings: Settings) -> None:
    """Move the waiting videos `heads` (the list's first entries) into RQ, in the transaction."""
    for raw in heads:
        pipe.lpop(waiting)
        _enqueue(queue, ConversionRequest.from_kwargs(json.loads(raw)), settings, pipe)


def release(queue: Queue, job_id: str, user_id: int, settings: Settings) -> ConversionRequest | None:
    """Free the slot of an ended job and queue the user's next waiting video, atomically."""
    return _free(queue, job_id, user_id, settings)[1]


def release_lost(queue: Queue, job_id: str, user_id: int, settings: Settings) -> bool:
    """Like release, for a job RQ no longer has (deleted in rq-dashboard, or lost): True if this
    call freed its slot; False if the job exists after all or its slot was freed before."""
    return _free(queue, job_id, user_id, settings, only_if_gone=True)[0]


def _free(
    queue: Queue, job_id: str, user_id: int, settings: Settings, *, only_if_gone: bool = False
) -> tuple[bool, ConversionRequest | None]:
    """Drop the job's slot and promote the next waiting video; (freed, promoted)."""
    active, waiting = keys.user_active(user_id), keys.user_pending(user_id)
    job_key = queue.job_class.key_for(job_id)
    with queue.connection.pipeline() as pipe:
        while True:
            try:
                pipe.watch(active, waiting, *([job_key] if only_if_gone else []))
                if pipe.zscore(active, job_id) is None or (only_if_gone and pipe.exists(job_key)):
                    return False, None  # released before (never promote twice), or not lost
                head = pipe.lindex(waiting, 0)
                pipe.multi()
                pipe.zrem(active, job_id)
                promoted = None
                if head is not None:
                    promoted = ConversionRequest.from_kwargs(json.loads(head))
                    pipe.lpop(waiting)
                    _enqueue(queue, promoted, settings, pipe)
                pipe.execute()
                return True, promoted
            except WatchError:
                continue


def forget_idle_user(redis: Redis, user_id: int) -> bool:
    """Drop the user from keys.ACTIVE_USERS if they hold no slot; False if a job of theirs
    was queued meanwhile (it stays listed)."""
    active = keys.user_active(user_id)
    with redis.pipeline() as pipe:
        try:
            pipe.watch(active)
            if pipe.zcard(active):
                return False
            pipe.multi()
            pipe.srem(keys.ACTIVE_USERS, user_id)
            pipe.execute()
        except WatchError:
            return False
    return True


def waiting_count(redis: Redis, user_id: int) -> int:
    """How many of the user's videos wait for a free slot."""
    return int(redis.llen(keys.user_pending(user_id)))


def outlook(queue: Queue, user_id: int, default_s: float = 5.0) -> tuple[int, int, float]:
    """For a new video of the user's, in one round trip: the videos ahead of it (queued, and the
    user's waiting for a slot), the workers on the queue, and the median conversion time of the
    last jobs (`default_s` before any)."""
    with queue.connection.pipeline(transaction=False) as pipe:
        pipe.llen(queue.key)  # Queue.count
        pipe.llen(keys.user_pending(user_id))  # waiting_count()
        pipe.scard(WORKERS_BY_QUEUE_KEY % queue.name)  # Worker.count(queue=queue)
        pipe.lrange(keys.RECENT_SECONDS, 0, -1)
        queued, pending, workers, recent = pipe.execute()
    seconds = [float(v) for v in recent]
    return int(queued) + int(pending), int(workers), statistics.median(seconds) if seconds else default_s


def _enqueue(queue: Queue, request: ConversionRequest, settings: Settings, pipe: Pipeline) -> None:
    """Create the RQ job inside the caller's transaction and take a slot for it."""
    queue.enqueue_call(
        func=JOB_FUNC,
        kwargs=request.to_kwargs(),
        job_id=request.job_id,
        description=JOB_DESCRIPTION,
        timeout=settings.job_timeout,
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        retry=Retry(max=settings.retry_max, interval=settings.retry_interval) if settings.retry_max else None,
        on_success=Callback(ON_SUCCESS, timeout=success_callback_timeout(settings.job_timeout)),
        on_failure=Callback(ON_FAILURE, timeout=FAILURE_CALLBACK_TIMEOUT_S),
        on_stopped=Callback(ON_STOPPED, timeout=FAILURE_CALLBACK_TIMEOUT_S),
        pipeline=pipe,
    )
    pipe.zadd(keys.user_active(request.user_id), {request.job_id: time.time()})
    pipe.expire(keys.user_active(request.user_id), settings.user_data_ttl_s)
    pipe.sadd(keys.ACTIVE_USERS, request.user_id)  # where the scheduler looks for lost jobs' slots
