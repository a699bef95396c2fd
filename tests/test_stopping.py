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

# The real worker on the test's Redis. As it starts waiting for a job, the main thread runs one of
# redis-py's finalizers (Redis.__del__: `try: self.close() except Exception: pass`), made to last
# here, and the test's SIGTERM lands in it: RQ's handler raises StopRequested there and it is lost.
LOSES_ITS_FIRST_STOP = """
import sys, time
from pathlib import Path
import redis
from rq.worker import WorkerStatus
from core.settings import Settings
from jobs import runtime, worker

settings = Settings(redis_url=sys.argv[1], tmp_dir=sys.argv[2], admin_password="x")
runtime.init(settings)
idle, jobs_first = Path(sys.argv[3]), int(sys.argv[4])
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

worker.GifWorker.set_state = set_state_then_finalize
worker.build_worker(settings, "loses-its-stop").work(with_scheduler=False)
print("left its loop", flush=True)
"""


@pytest.mark.parametrize("jobs_first", [0, 1], ids=["fresh", "after-a-job"])
def test_an_idle_worker_whose_stop_is_lost_in_a_finalizer_still_stops(
    tmp_path: Path, redis_server: Any, redis_client: Any, jobs_first: int
):
    """SIGTERM lands while a finalizer that swallows exceptions runs in the idle worker: the worker
    still leaves its loop within seconds (not after the 20 s wait for a job, nor never), unregisters,
    and says the stop was raised again. Also after a job, whose watch left SIGALRM at its default."""
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
    assert "raised again 1 time(s)" in err
    assert Worker.count(connection=redis_client) == 0, "the worker did not unregister"
    assert [job.get_status(refresh=True) for job in done] == ["finished"] * jobs_first
