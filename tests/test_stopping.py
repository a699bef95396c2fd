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
        client.close = lambda: last(idle, "idle")  # what its __del__ calls: the stop lands in here
        del client

def last(path, what):  # say where the worker is, then stay there a while
    # in short sleeps: the kernel may hand SIGTERM to another thread, which does not end a sleep of
    # the main thread, and Python runs the handler only in the main thread, between its sleeps
    path.write_text(what)
    for _ in range(300):
        time.sleep(0.1)

def after_fork_in_parent():
    if not idle.exists():
        last(idle, "forking")

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


PLAIN_WORKER = """
import sys
from core.settings import Settings
from jobs import runtime, worker
settings = Settings(redis_url=sys.argv[1], tmp_dir=sys.argv[2], admin_password="x")
runtime.init(settings)
worker.build_worker(settings, "plain").work(with_scheduler=False)
print("left its loop", flush=True)
"""


def states(redis_client: Any) -> list[str]:
    """The state of each worker registered in Redis."""
    return [worker.get_state() for worker in Worker.all(connection=redis_client)]


def blocked_signals(pid: int, tid: int) -> set[int]:
    """The signals a thread of process `pid` blocks, from /proc."""
    status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16)
    return {number for number in range(1, 65) if mask >> (number - 1) & 1}


def test_only_the_main_thread_of_an_idle_worker_can_take_its_stop(
    tmp_path: Path, redis_server: Any, redis_client: Any
):
    """The kernel hands SIGTERM to any thread that does not block it, and Python acts on it only in
    the main thread: a helper thread (RQ's pubsub) that took it left the idle worker waiting for a
    job (~16 s). Every other thread blocks the stop signals; the main thread takes them and stops."""
    argv = [sys.executable, "-c", PLAIN_WORKER, redis_server.url, str(tmp_path)]
    root = Path(__file__).resolve().parents[1]
    with subprocess.Popen(
        argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as worker:
        try:
            # RQ installs its signal handlers after it registers: wait until it waits for a job
            wait_until(lambda: states(redis_client) == ["idle"], 60, what="the worker waiting for a job")
            tasks = Path(f"/proc/{worker.pid}/task")
            # idle: the main thread and RQ's pubsub thread (a spare ffprobe's readers come and go)
            wait_until(lambda: len(list(tasks.iterdir())) == 2, 30, what="the pubsub thread alone")
            helpers = [int(task.name) for task in tasks.iterdir() if int(task.name) != worker.pid]
            stops = {signal.SIGTERM, signal.SIGINT, signal.SIGALRM}
            assert all(stops <= blocked_signals(worker.pid, tid) for tid in helpers)
            assert not stops & blocked_signals(worker.pid, worker.pid)
            asked_at = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            out, err = worker.communicate(timeout=15)
        finally:
            worker.kill()
    assert out.strip().splitlines()[-1] == "left its loop", err
    assert time.monotonic() - asked_at < 10
    assert Worker.count(connection=redis_client) == 0
