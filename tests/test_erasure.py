"""/forget against RQ's own bookkeeping: what a real worker leaves behind is deleted too."""

from __future__ import annotations

import redis
from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.serializers import JSONSerializer

from core import erasure
from core.models import job_id_for

USER = 424242


def running_executions() -> list[str]:
    """A job body: the ids of its own executions, read while it runs."""
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    return [execution.id for execution in job.get_executions()]


def test_forget_deletes_an_execution_record_that_rqs_heartbeat_wrote_back(
    redis_client: redis.Redis, queue: Queue
):
    """A real worker runs the user's job and deletes its execution; the worker's heartbeat, landing
    just after (its HSET and EXPIRE on its own timer), writes the key back with no registry listing
    it. /forget deletes it with the rest of the job, and leaves another user's execution alone."""
    job_id, other_id = job_id_for(USER, 1), job_id_for(USER + 1, 1)
    queue.enqueue(running_executions, job_id=job_id)
    SimpleWorker([queue], connection=redis_client, serializer=JSONSerializer).work(burst=True)
    job = Job.fetch(job_id, connection=redis_client, serializer=JSONSerializer)
    [execution_id] = job.return_value()
    execution = Execution(execution_id, job_id, redis_client)
    assert not redis_client.exists(execution.key), "RQ deleted the execution when the job ended"
    other = Execution("e" * 32, other_id, redis_client)
    with redis_client.pipeline() as pipe:  # the late heartbeats, exactly as RQ's worker writes them
        for late in (execution, other):
            late.heartbeat(job.started_job_registry, 60, pipeline=pipe)
        pipe.execute()
    assert redis_client.exists(execution.key) and redis_client.exists(other.key)
    assert not job.execution_registry.get_execution_ids(), "no registry lists the stray key"

    erased = erasure.erase_user(redis_client, USER)

    assert erased.jobs == 1
    assert not redis_client.exists(execution.key)
    assert [k.decode() for k in redis_client.scan_iter(match=f"*{job_id}*")] == []
    assert redis_client.exists(other.key), "another user's execution stays"
