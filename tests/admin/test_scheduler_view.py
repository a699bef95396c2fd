"""The scheduler page: the leader and since when, each task's last pass, the jobs each recovery pass
put back (abandoned and stuck), and RQ's scheduler locks."""

from __future__ import annotations

import re
import time

from flask.testing import FlaskClient
from redis import Redis
from rq import Queue
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from core import keys, upkeep
from core.settings import Settings
from jobs import maintenance
from jobs.scheduler import build_scheduler


def cells(html: str, row_start: str) -> list[str]:
    """The text of each cell of the first table row starting with `row_start`."""
    row = html[html.index(row_start) :].split("</tr>")[0]
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def lose_jobs(redis: Redis) -> None:
    """One job whose worker died mid-run (heartbeat lapsed) and one a dead worker took but never
    started, first seen by an earlier sweep longer ago than the grace."""
    queue = Queue("gifs", connection=redis, serializer=JSONSerializer)
    abandoned = queue.enqueue_call("jobs.maintenance.sweep_temp", job_id="gif_1_1")
    Queue.lmove(redis, queue.key, None)
    redis.lrem(queue.intermediate_queue.key, 1, abandoned.id)
    abandoned.set_status(JobStatus.STARTED)
    redis.zadd(queue.started_job_registry.key, {f"{abandoned.id}:exec-1": time.time() - 60})
    stuck = queue.enqueue_call("jobs.maintenance.sweep_temp", job_id="gif_2_1")
    Queue.lmove(redis, queue.key, None)
    redis.set(keys.stuck(stuck.id), time.time() - maintenance.STUCK_GRACE_S - 1)


def test_scheduler_page_without_a_scheduler_says_so(admin: FlaskClient):
    """No leader, no pass yet, nothing recovered: each section says so plainly."""
    html = admin.get("/scheduler").get_data(as_text=True)
    assert "No scheduler holds the leader lock" in html
    assert "No pass recorded yet" in html and "No job needed recovering" in html


def test_scheduler_page_shows_the_leader_since_when_and_each_tasks_last_pass(
    admin: FlaskClient, redis_client: Redis
):
    """The instance holding the lock and when it took it; a standby does not change that; each task's
    last pass with its result or error."""
    settings = Settings(queue_name="gifs")
    before = time.time()
    leader = build_scheduler(settings, redis_client, "box-a.101")
    assert leader.lead()
    assert not build_scheduler(settings, redis_client, "box-b.202").lead(), "a standby"
    found = upkeep.leader(redis_client)
    assert found is not None and found.name == "box-a.101" and before <= (found.since or 0) <= time.time()
    maintenance.run_pass(redis_client, "sample_depth", lambda: maintenance.depth(redis_client, settings))
    maintenance.run_pass(redis_client, "forget_users", lambda: 1 // 0)

    html = admin.get("/scheduler").get_data(as_text=True)
    assert "box-a.101" in html and "box-b.202" not in html
    assert time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(found.since)) in html
    assert cells(html, '<tr data-task="sample_depth">')[-1] == "0 jobs waiting"
    assert cells(html, '<tr data-task="forget_users">')[-1] == "failed: ZeroDivisionError"


def test_scheduler_page_counts_abandoned_and_stuck_jobs_each_recovery_pass_put_back(
    admin: FlaskClient, redis_client: Redis
):
    """A recovery pass that re-queues one abandoned and one stuck job is listed with both counts."""
    lose_jobs(redis_client)
    settings = Settings(queue_name="gifs")
    task = lambda: maintenance.recover(redis_client, settings)  # noqa: E731
    assert maintenance.run_pass(redis_client, "recover_abandoned", task).result == 2
    assert maintenance.run_pass(redis_client, "recover_abandoned", task).result == 0, "nothing left"

    html = admin.get("/scheduler").get_data(as_text=True)
    assert cells(html, '<tr data-task="recover_abandoned">')[-1] == "0 jobs recovered"
    assert [(r.abandoned, r.stuck) for r in upkeep.recoveries(redis_client)] == [(1, 1)]
    table = html[html.index('id="recoveries"') :]
    assert cells(table, "<tr><td")[1:] == ["1", "1"]


def test_scheduler_page_shows_rq_scheduler_locks(admin: FlaskClient, redis_client: Redis):
    """RQ's retry-scheduler lock on the queue shows the worker scheduler that holds it."""
    redis_client.set("rq:scheduler-lock:gifs", "box-1.worker-0", ex=60)
    html = admin.get("/scheduler").get_data(as_text=True)
    assert cells(html, "<tr><td>RQ retry scheduler")[1] == "box-1.worker-0"
