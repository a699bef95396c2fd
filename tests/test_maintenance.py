"""Maintenance: a job taken by a worker that died before starting it goes back to the queue."""

from __future__ import annotations

from rq import Queue
from rq.serializers import JSONSerializer

from jobs.maintenance import rescue_stuck


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
