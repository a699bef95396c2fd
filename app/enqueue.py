"""Put one conversion on the queue, exactly once per Telegram message."""

from __future__ import annotations

from redis import Redis
from rq import Callback, Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

from app import stats
from app.models import JOB_DESCRIPTION, JOB_FUNC, ConversionRequest
from app.settings import Settings

ON_SUCCESS = "jobs.delivery.send_gif"
ON_FAILURE = "jobs.delivery.report_failure"
SUCCESS_CALLBACK_TIMEOUT_S = 300  # an upload of up to 50 MB, plus waiting out 429s
FAILURE_CALLBACK_TIMEOUT_S = 60
RESULT_TTL_S = 24 * 3600
FAILURE_TTL_S = 7 * 24 * 3600


def gif_queue(redis: Redis, settings: Settings) -> Queue:
    """The conversion queue, with the JSON serializer every process uses."""
    return Queue(settings.queue_name, connection=redis, serializer=JSONSerializer)


def enqueue_conversion(queue: Queue, request: ConversionRequest, settings: Settings) -> Job | None:
    """Queue the conversion; None if this message's job was queued before (re-delivered update)."""
    if stats.was_queued(queue.connection, request.job_id):
        return None
    with queue.connection.pipeline() as pipe:
        job = queue.enqueue_call(
            func=JOB_FUNC,
            kwargs=request.to_kwargs(),
            job_id=request.job_id,
            description=JOB_DESCRIPTION,
            timeout=settings.job_timeout,
            result_ttl=RESULT_TTL_S,
            failure_ttl=FAILURE_TTL_S,
            retry=Retry(max=settings.retry_max, interval=settings.retry_interval),
            on_success=Callback(ON_SUCCESS, timeout=SUCCESS_CALLBACK_TIMEOUT_S),
            on_failure=Callback(ON_FAILURE, timeout=FAILURE_CALLBACK_TIMEOUT_S),
            pipeline=pipe,
        )
        stats.mark_queued(pipe, request.job_id)
        stats.record_video(pipe, request.user_id, request.file_size)
        pipe.execute()
    return job
