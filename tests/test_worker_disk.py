"""A worker whose temp disk is nearly full takes no job, says so in its log and in /healthz, and
takes jobs again once there is room.

"Nearly full" is made real by setting MIN_FREE_DISK_MB above the disk's actual free space; "room
again" by lowering the running worker's threshold. The worker is the real GifWorker (it forks a work
horse for the job) on the session's redis-server; /healthz is the admin app's.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
import redis
from rq.job import JobStatus

from admin import create_app
from core import boxes
from core.admission import gif_queue
from core.settings import Settings
from jobs import runtime, workdir
from jobs.worker import GifWorker, build_worker
from tests.services import wait_until

WORKER = "box-a.1"


pytestmark = pytest.mark.usefixtures("rq_signal_handlers")


@pytest.fixture
def settings(tmp_path: Path, redis_server: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A threshold above the temp disk's real free space: the disk counts as nearly full."""
    values = Settings(
        redis_url=redis_server.url,
        tmp_dir=str(tmp_path / "work"),
        min_free_disk_mb=workdir.free_mb(tmp_path) + 1_000_000,
        admin_password="not used here",
    )
    monkeypatch.setattr(runtime, "_settings", values)  # what the worker's registry cleanup reads
    return values


def low_disk_worker(settings: Settings, redis_client: redis.Redis) -> GifWorker:
    """The real worker, checking the disk often so the test is quick."""
    worker = build_worker(settings, WORKER, redis_client)
    worker.disk_check_s = 0.05
    return worker


def status(redis_client: redis.Redis) -> boxes.WorkerStatus | None:
    """What the worker last published about itself."""
    return next((s for s in boxes.read_all(redis_client) if s.name == WORKER), None)


def test_a_burst_worker_on_a_full_disk_takes_nothing(settings: Settings, redis_client: redis.Redis):
    """With too little free space the worker leaves the queued job alone."""
    queue = gif_queue(redis_client, settings)
    job = queue.enqueue("builtins.len", [1, 2])

    assert low_disk_worker(settings, redis_client).work(burst=True) is False

    assert queue.job_ids == [job.id]
    assert job.get_status() == JobStatus.QUEUED


def test_a_worker_pauses_while_the_disk_is_full_and_resumes_once_there_is_room(
    settings: Settings, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
):
    """Low disk: job left queued, one log line, /healthz shows it; room again: job done, one line."""
    caplog.set_level(logging.INFO, logger="jobs.worker")
    queue = gif_queue(redis_client, settings)
    job = queue.enqueue("builtins.len", [1, 2])
    worker = low_disk_worker(settings, redis_client)
    health = create_app({"SETTINGS": settings, "REDIS": redis_client, "TESTING": True}).test_client()
    seen: dict[str, Any] = {}

    def space_comes_back() -> None:
        try:
            wait_until(lambda: (s := status(redis_client)) and not s.taking_jobs, 20, what="a paused worker")
            seen["queued"] = queue.job_ids
            seen["healthz"] = health.get("/healthz").get_json()
        finally:
            worker.min_free_disk_mb = 0  # room again (and never leave the worker waiting forever)

    helper = threading.Thread(target=space_comes_back)
    helper.start()
    worker.work(burst=False, max_jobs=1, max_idle_time=30)
    helper.join()

    assert seen["queued"] == [job.id], "no job taken while the disk was full"
    assert job.get_status(refresh=True) == JobStatus.FINISHED and job.return_value() == 2
    (box,) = seen["healthz"]["boxes"]
    assert seen["healthz"]["low_disk_boxes"] == [box["box"]] and box["low_disk"] is True
    (listed,) = box["workers"]
    assert listed["name"] == WORKER and listed["taking_jobs"] is False
    assert listed["min_free_disk_mb"] == settings.min_free_disk_mb > listed["free_disk_mb"]
    messages = [r.getMessage() for r in caplog.records if r.name == "jobs.worker"]
    assert sum("stops taking jobs" in m for m in messages) == 1, messages
    assert sum("takes jobs again" in m for m in messages) == 1, messages
    assert status(redis_client) is None, "a worker that stopped cleanly leaves no status behind"


def test_healthz_lists_each_boxs_workers(settings: Settings, redis_client: redis.Redis):
    """Statuses published by workers on two boxes show up grouped by box; only the full box is flagged."""
    for name, box, free in (("a.1", "box-a", 100), ("a.2", "box-a", 100), ("b.1", "box-b", 9000)):
        boxes.publish(redis_client, boxes.WorkerStatus(name, box, free > 500, free, 500))
    client = create_app({"SETTINGS": settings, "REDIS": redis_client, "TESTING": True}).test_client()

    body = client.get("/healthz").get_json()

    assert [(b["box"], [w["name"] for w in b["workers"]], b["low_disk"]) for b in body["boxes"]] == [
        ("box-a", ["a.1", "a.2"], True),
        ("box-b", ["b.1"], False),
    ]
    assert body["low_disk_boxes"] == ["box-a"]
    redis_client.delete("gifbot:worker:b.1")  # its TTL ran out: the worker is gone
    assert [b["box"] for b in client.get("/healthz").get_json()["boxes"]] == ["box-a"]


def test_a_worker_takes_no_job_into_a_temp_dir_others_can_write_to(
    tmp_path: Path, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
):
    """A temp root another local user could have made (world-writable here) gets no job; the log says why."""
    root = tmp_path / "shared"
    root.mkdir(mode=0o777)
    root.chmod(0o777)
    settings = Settings(redis_url="redis://unused", tmp_dir=str(root), admin_password="not used here")
    caplog.set_level(logging.WARNING, logger="jobs.worker")
    queue = gif_queue(redis_client, settings)
    job = queue.enqueue("builtins.len", [1, 2])

    assert build_worker(settings, WORKER, redis_client).work(burst=True) is False

    assert queue.job_ids == [job.id] and job.get_status() == JobStatus.QUEUED
    (line,) = [r.getMessage() for r in caplog.records if r.name == "jobs.worker"]
    assert f"stops taking jobs: temp dir {root} is writable by its group or others (mode 0777)" in line
