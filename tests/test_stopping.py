"""An idle worker told to stop leaves its loop, even when the first StopRequested is lost (jobs.stopping)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rq import Worker

from core.admission import gif_queue
from core.settings import Settings
from tests.services import wait_until

# The real worker on the test's Redis. The test's SIGTERM lands where RQ's StopRequested is lost:
# - "finalizer": as the worker starts waiting for a job, its main thread runs one of redis-py's
#   finalizers (Redis.__del__: `try: self.close() except Exception: pass`), made to last here;
# - "at-fork": as the idle worker forks its spare ffprobe runs, Python runs an at-fork hook in it
#   (in life logging's lock release, a few microseconds; made to last here), which drops what it raises.
LOSES_ITS_FIRST_STOP = """
import os, sys, time
from pathlib import Path
import redis
from rq.worker import WorkerStatus
from core.settings import Settings
from jobs import runtime, toolbox, worker

settings = Settings(redis_url=sys.argv[1], tmp_dir=sys.argv[2], admin_password="x")
runtime.init(settings)
idle, where, jobs_first = Path(sys.argv[3]), sys.argv[4], int(sys.argv[5])
set_state = worker.GifWorker.set_state
waits = []

def set_state_then_finalize(self, state, pipeline=None):
    set_state(self, state, pipeline)
    if state == WorkerStatus.IDLE:
        waits.append(state)
    if len(waits) == 2 * jobs_first + 1 and not idle.exists():  # RQ says idle after a job, and as it waits
        client = redis.Redis()  # makes no connection
        client.close = lambda: time.sleep(30)  # what its __del__ calls: the stop lands in here
        idle.write_text("idle")
        del client

def after_fork_in_parent():
    if not idle.exists():
        idle.write_text("forking")
        time.sleep(30)

if where == "finalizer":
    worker.GifWorker.set_state = set_state_then_finalize
else:
    toolbox.ffprobe_writes_to_file()  # asked once per worker, before its loop (one ffprobe run)
    os.register_at_fork(after_in_parent=after_fork_in_parent)
worker.build_worker(settings, "loses-its-stop").work(with_scheduler=False)
print("left its loop", flush=True)
"""


@pytest.mark.parametrize(
    ("where", "jobs_first"),
    [("finalizer", 0), ("finalizer", 1), ("at-fork", 0)],
    ids=["in-a-finalizer", "in-a-finalizer-after-a-job", "in-an-at-fork-hook"],
)
def test_an_idle_worker_whose_stop_is_lost_still_stops(
    tmp_path: Path, redis_server: Any, redis_client: Any, where: str, jobs_first: int
):
    """SIGTERM lands in code that drops what RQ's handler raises, in the idle worker: the worker still
    leaves its loop within seconds (not after the 20 s wait for a job, nor never), unregisters, and
    says it acted on a lost stop. Also after a job, whose watch left SIGALRM at its default."""
    idle, work = tmp_path / "idle", tmp_path / "work"
    work.mkdir()
    settings = Settings(redis_url=redis_server.url, tmp_dir=str(work), admin_password="x")
    done = [gif_queue(redis_client, settings).enqueue("builtins.len", [1, 2]) for _ in range(jobs_first)]
    argv = [
        sys.executable,
        "-c",
        LOSES_ITS_FIRST_STOP,
        redis_server.url,
        str(work),
        str(idle),
        where,
        str(jobs_first),
    ]
    with subprocess.Popen(
        argv,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as worker:
        try:
            wait_until(idle.exists, 60, what="the worker waiting for a job, inside the finalizer")
            asked_at = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            out, err = worker.communicate(timeout=15)
        finally:
            worker.kill()
        took_s = time.monotonic() - asked_at
    assert worker.returncode == 0, err
    assert out.strip().splitlines()[-1] == "left its loop", err
    assert took_s < 10, f"stopped {took_s:.1f} s after SIGTERM"
    assert "the stop was lost on its way; acted on it 1 time(s)" in err
    assert Worker.count(connection=redis_client) == 0, "the worker did not unregister"
    assert [job.get_status(refresh=True) for job in done] == ["finished"] * jobs_first
