"""No unpickling: every rq-dashboard page, JSON view and action reads jobs with the JSON serializer."""

from __future__ import annotations

import base64
import pickle
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer

from tests.admin.helpers import busy_worker, csrf_token, enqueue_jobs, fail_jobs, gif_queue

REGISTRIES = ("queued", "failed", "finished", "started", "deferred", "scheduled", "canceled")
ACTION_ORDER = ("requeue_job_view", "requeue_all", "compact_queue", "delete_job_view", "empty_queue")


class Canary:
    """Unpickling this object opens (creates) a file: proof that someone unpickled it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.path), "w")


def plant(redis: Redis, job_id: str, payload: bytes) -> None:
    """Put the pickle in the job hash's meta and result fields and as its latest result."""
    redis.hset(f"rq:job:{job_id}", mapping={"meta": payload, "result": payload})
    encoded = base64.b64encode(payload).decode()
    redis.xadd(f"rq:results:{job_id}", {"type": 1, "worker_name": "", "return_value": encoded})


def jobs_in_every_registry(redis: Redis) -> dict[str, str]:
    """One real job per registry rq-dashboard shows; returns registry name -> job id."""
    queue = gif_queue(redis)
    jobs = {"failed": fail_jobs(redis, 1)[0].id}
    finished = queue.enqueue("builtins.len", [1], description="finished job")
    SimpleWorker([queue], connection=redis, serializer=JSONSerializer).work(burst=True)
    jobs["finished"] = finished.id
    jobs["started"] = busy_worker(redis)[1].id
    jobs["queued"] = enqueue_jobs(redis, 1)[0].id
    jobs["deferred"] = queue.enqueue("builtins.len", [1], depends_on=jobs["queued"]).id
    jobs["scheduled"] = queue.enqueue_in(timedelta(hours=1), "builtins.len", [1]).id
    canceled = queue.enqueue("builtins.len", [1])
    canceled.cancel()
    jobs["canceled"] = canceled.id
    return jobs


def dashboard_requests(app: Flask, jobs: dict[str, str]) -> list[tuple[str, str, str]]:
    """(method, endpoint, url) for every rq-dashboard rule, once per job and per registry it takes."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("rq_dashboard."):
            continue
        base = {"instance_number": 0, "queue_name": "gifs", "per_page": 8, "order": "asc", "page": 1}
        variants = [{"job_id": job_id} for job_id in jobs.values()] if "job_id" in rule.arguments else [{}]
        if "registry_name" in rule.arguments:
            variants = [{**v, "registry_name": name} for v in variants for name in REGISTRIES]
        for variant in variants:
            values = {**base, **variant, "filename": "js/jquery-3.5.1.min.js"}
            url = rule.build({k: values[k] for k in rule.arguments})[1]
            found += [(m, rule.endpoint, url) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    reads = [r for r in found if r[0] == "GET"]
    actions = [r for r in found if r[0] == "POST"]
    actions.sort(key=lambda r: ACTION_ORDER.index(r[1].split(".")[1]))
    return reads + actions


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    """Where the planted pickle would write if anyone unpickled it."""
    return tmp_path / "canary"


def test_the_planted_payload_writes_the_canary_when_unpickled(canary: Path):
    """The payload is live: pickle.loads creates the canary file (so the test below can fail)."""
    pickle.loads(pickle.dumps(Canary(canary))).close()
    assert canary.exists()


def test_no_dashboard_page_or_action_unpickles_job_data(
    app: Flask, admin: FlaskClient, redis_client: Redis, canary: Path
):
    """Every job page, JSON view and action on jobs holding a pickle leaves the canary file uncreated."""
    jobs = jobs_in_every_registry(redis_client)
    payload = pickle.dumps(Canary(canary))
    for job_id in jobs.values():
        plant(redis_client, job_id, payload)
    headers = {"X-CSRFToken": csrf_token(admin)}
    requests = dashboard_requests(app, jobs)
    assert {e for _, e, _ in requests} >= {f"rq_dashboard.{a}" for a in ACTION_ORDER}
    statuses = {}
    for method, _, url in requests:
        response = admin.open(url, method=method, headers=headers if method == "POST" else {})
        statuses[(method, url)] = response.status_code
        assert not canary.exists(), f"{method} {url} unpickled job data"
    assert not [k for k, status in statuses.items() if status >= 500], statuses
    assert len(statuses) >= 60


def test_the_job_page_shows_unreadable_data_as_such(admin: FlaskClient, redis_client: Redis, canary: Path):
    """A job whose meta and result are not JSON still opens; the JSON view says they are unreadable."""
    job_id = enqueue_jobs(redis_client, 1)[0].id
    plant(redis_client, job_id, pickle.dumps(Canary(canary)))
    assert admin.get(f"/rq/0/view/job/{job_id}").status_code == 200
    info = admin.get(f"/rq/0/data/job/{job_id}.json").get_json()
    assert "unreadable" in info["result"] and "unreadable" in info["metadata"]
    assert not canary.exists()


def test_dashboard_actions_still_work_on_json_jobs(admin: FlaskClient, redis_client: Redis):
    """Requeue, delete and requeue-all act on our (JSON) jobs as before."""
    failed = fail_jobs(redis_client, 2)
    queued = enqueue_jobs(redis_client, 1)[0]
    headers = {"X-CSRFToken": csrf_token(admin)}
    queue = gif_queue(redis_client)
    assert admin.post(f"/rq/job/{failed[0].id}/requeue", headers=headers).get_json() == {"status": "OK"}
    assert failed[0].id in queue.job_ids
    assert admin.post(f"/rq/job/{queued.id}/delete", headers=headers).get_json() == {"status": "OK"}
    assert not Job.exists(queued.id, connection=redis_client)
    assert admin.post("/rq/requeue/gifs", headers=headers).get_json() == {"status": "OK", "count": 1}
    assert failed[1].id in queue.job_ids
