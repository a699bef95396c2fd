"""Maintenance: a job taken by a worker that died before starting it goes back to the queue."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from rq import Queue
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from core.settings import Settings
from jobs import maintenance
from jobs.maintenance import rescue_stuck

RACE_ROUNDS = 150


def test_job_stuck_between_dequeue_and_start_is_put_back(redis_client):
    """A job a dead worker moved to RQ's intermediate queue is back at the queue's front on the 2nd sweep."""
    queue = Queue("gifs", connection=redis_client, serializer=JSONSerializer)
    stuck = queue.enqueue_call("jobs.maintenance.sweep_temp", job_id="gif_1_1")
    queue.enqueue_call("jobs.maintenance.sweep_temp", job_id="gif_2_2")
    Queue.lmove(redis_client, queue.key, None)  # what a worker does right before it dies
    assert queue.job_ids == ["gif_2_2"]
    assert rescue_stuck(queue, grace_s=0) == 0, "first sighting: a live worker may be about to start it"
    assert rescue_stuck(queue, grace_s=0) == 1
    assert queue.job_ids == [stuck.id, "gif_2_2"]
    assert queue.intermediate_queue.get_job_ids() == []


def test_job_seen_only_briefly_is_left_alone(redis_client):
    """Within the grace period the job stays where its (live) worker put it."""
    queue = Queue("gifs", connection=redis_client, serializer=JSONSerializer)
    queue.enqueue_call("jobs.maintenance.sweep_temp", job_id="gif_1_1")
    Queue.lmove(redis_client, queue.key, None)
    rescue_stuck(queue)
    assert rescue_stuck(queue) == 0
    assert queue.intermediate_queue.get_job_ids() == ["gif_1_1"]


def test_two_sweepers_racing_on_one_stuck_job_queue_it_exactly_once(redis_client, redis_server):
    """Two sweepers (threads, own connections) rescuing one stuck job at once queue it once, every round."""
    queues = [Queue("gifs", connection=redis_server.client(), serializer=JSONSerializer) for _ in range(2)]
    start = threading.Barrier(2)

    def sweep(queue: Queue) -> int:
        start.wait(timeout=10)
        return rescue_stuck(queue, grace_s=0)

    queue, outcomes = queues[0], []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for n in range(RACE_ROUNDS):
            job_id = queue.enqueue_call("jobs.maintenance.sweep_temp", job_id=f"gif_{n}_1").id
            Queue.lmove(redis_client, queue.key, None)  # its worker died before starting it
            assert rescue_stuck(queue, grace_s=0) == 0  # first sighting
            rescued = sum(pool.map(sweep, queues))
            outcomes.append(
                (rescued, queue.job_ids.count(job_id), len(queue.intermediate_queue.get_job_ids()))
            )
            redis_client.delete(queue.key)  # so the next round's job is the one a worker takes

    assert Counter(outcomes) == Counter({(1, 1, 0): RACE_ROUNDS}), "(rescued, copies queued, still stuck)"


def test_a_recovery_pass_records_the_jobs_it_recovered_and_when_it_ended(redis_client):
    """run_pass(recover) records how many abandoned jobs it handled, and an end after the work."""
    queue = Queue("gifs", connection=redis_client, serializer=JSONSerializer)
    job = queue.enqueue_call("jobs.maintenance.sweep_temp", job_id="gif_1_1")
    Queue.lmove(redis_client, queue.key, None)
    redis_client.lrem(queue.intermediate_queue.key, 1, job.id)
    job.set_status(JobStatus.STARTED)  # its worker took it, ran it, then died: the heartbeat lapsed
    redis_client.zadd(queue.started_job_registry.key, {f"{job.id}:exec-1": time.time() - 60})
    settings = Settings(queue_name="gifs")

    def recover_slowly() -> int:
        time.sleep(0.2)  # the task's own running time, which the record must cover
        return maintenance.recover(redis_client, settings)

    done = maintenance.run_pass(redis_client, "recover_abandoned", recover_slowly)

    assert done.result == 1 and not done.error
    assert done.ended - done.started >= 0.2
    assert maintenance.last_passes(redis_client)["recover_abandoned"] == done
    assert job.get_status() == JobStatus.FAILED  # no retries were set: recovered into the failed registry
