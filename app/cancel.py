"""/cancel: stop a user's waiting, queued and running conversions."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace

from redis import Redis
from rq import Queue
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from core import admission, keys, markers
from core.models import ConversionRequest
from core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cancelled:
    """What /cancel stopped: the requests, so their status messages can say so."""

    requests: tuple[ConversionRequest, ...]


def cancel_user_jobs(queue: Queue, user_id: int, settings: Settings) -> Cancelled:
    """Drop the user's waiting videos, cancel queued jobs, and stop the running one(s)."""
    redis = queue.connection
    stopped = [*_drop_waiting(redis, user_id)]
    for raw_id in redis.zrange(keys.user_active(user_id), 0, -1):
        job_id = raw_id.decode()
        try:
            job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
        except NoSuchJobError:
            admission.release(queue, job_id, user_id, settings)
            continue
        if _stop(queue, job, user_id, settings):
            stopped.append(ConversionRequest.from_kwargs(job.kwargs))
    return Cancelled(tuple(_with_status(redis, request) for request in stopped))


def _with_status(redis: Redis, request: ConversionRequest) -> ConversionRequest:
    """The request with its status message's id: the bot queues a video before it replies, so the
    id is in Redis (core.markers) rather than in the job's arguments."""
    if request.status_message_id:
        return request
    return replace(request, status_message_id=markers.status_message_id(redis, request.job_id) or 0)


def _drop_waiting(redis: Redis, user_id: int) -> list[ConversionRequest]:
    with redis.pipeline() as pipe:
        pipe.lrange(keys.user_pending(user_id), 0, -1)
        pipe.delete(keys.user_pending(user_id))
        raw, _ = pipe.execute()
    return [ConversionRequest.from_kwargs(json.loads(item)) for item in raw]


def _stop(queue: Queue, job: Job, user_id: int, settings: Settings) -> bool:
    """Cancel a queued or scheduled job, or ask its worker to stop it; True if it was stopped."""
    status = job.get_status(refresh=True)
    if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        job.cancel()
        admission.release(queue, job.id, user_id, settings)  # no worker will end it: free the slot here
        return True
    if status == JobStatus.STARTED:
        try:
            send_stop_job_command(queue.connection, job.id, serializer=JSONSerializer)
            return True  # the worker kills the horse; on_stopped frees the slot
        except InvalidJobOperation:
            log.info("job=%s ended before it could be stopped", job.id)
    return False
