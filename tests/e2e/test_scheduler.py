"""The scheduler: periodic maintenance reaches the workers, and only one instance leads at a time."""

from __future__ import annotations

import signal

from core import hourly, keys
from tests.services import wait_until


def leader(redis_client) -> str | None:
    value = redis_client.get(keys.SCHEDULER_LOCK)
    return value.decode() if value else None


def test_periodic_maintenance_runs_and_records_queue_depth(stack, redis_client):
    """With a scheduler and a worker, the queue-depth sampler runs without anyone asking."""
    stack.spawn("scheduler", "jobs.scheduler")
    stack.worker()
    wait_until(lambda: hourly.depth_samples(redis_client), timeout=60, what="a queue depth sample")


def test_two_schedulers_elect_one_leader_and_the_standby_takes_over(stack, redis_client):
    """Two schedulers (two boxes): one leads; when it is killed the other takes over."""
    first = stack.spawn("scheduler-a", "jobs.scheduler")
    second = stack.spawn("scheduler-b", "jobs.scheduler")
    by_pid = {first.popen.pid: first, second.popen.pid: second}
    holder = wait_until(lambda: leader(redis_client), timeout=30, what="a leader")
    leading = by_pid[int(holder.rsplit(".", 1)[1])]
    standby = second if leading is first else first
    leading.kill_group(signal.SIGKILL)
    new_holder = wait_until(
        lambda: (h := leader(redis_client)) and h != holder and h, timeout=90, what="the standby to take over"
    )
    assert int(new_holder.rsplit(".", 1)[1]) == standby.popen.pid
    assert standby.alive()
