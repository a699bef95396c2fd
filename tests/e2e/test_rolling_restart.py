"""Re-running setup.sh on a running stack: workers restart one at a time, none of them all at once.

A worker box (a copy of supervisord.worker.conf, as in test_boxes.py) runs 2 workers under its own
supervisord, its WORKERS written by scripts/supervise.sh's write_supervisord_env as setup.sh
does; a real bot queues videos. Then setup.sh's rolling_restart runs mid-job, as on an upgrade:
with the config unchanged each worker restarts in turn; with WORKERS=3 (slow tier) the group is
replaced while a bridge worker takes jobs. A thread samples the box throughout: a worker is "up"
while supervisord says RUNNING and RQ has it registered.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import xmlrpc.client
from datetime import UTC
from pathlib import Path

import pytest
from rq import Worker
from rq.job import Job, JobStatus
from supervisor.xmlrpc import SupervisorTransport

from tests.e2e.test_boxes import Box, box_env, fetch_job, send_videos
from tests.fakes.telegram_api import FILE_DOWNLOAD
from tests.gifcheck import all_done, job_status
from tests.services import REPO_ROOT, wait_until

VIDEOS_PER_RESTART = 3
DOWNLOAD_DELAY_S = 2.0  # each job waits on its download, so restarts land mid-job without CPU
START_TIMEOUT_S = 60
RESTART_TIMEOUT_S = 180
WORKER_GROUPS = ("worker", "worker-bridge")


def supervise(box: Box, function: str, **env: str) -> subprocess.CompletedProcess:
    """Run one function of scripts/supervise.sh against `box`, as setup.sh would."""
    script = 'source scripts/supervise.sh && say() { printf "==> %s\\n" "$*"; } && CONF=$1 && "$2"'
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail; {script}", "_", str(box.conf), function],
        cwd=REPO_ROOT,
        env={**box.env, **env},
        capture_output=True,
        text=True,
        timeout=RESTART_TIMEOUT_S,
    )


def write_env(box: Box, workers: int) -> None:
    """What setup.sh does before starting or restarting: write the values supervisord expands."""
    file = box.root / "var/supervisord.d/environment.conf"
    script = 'source scripts/supervise.sh && write_supervisord_env "$1" "$2"'
    venv_bin = str(Path(sys.executable).parent)
    subprocess.run(["bash", "-c", script, "_", str(file), venv_bin], cwd=REPO_ROOT, check=True,
                   env={**box.env, "WORKERS": str(workers)})  # fmt: skip


class UpWatch(threading.Thread):
    """Samples the box every 0.1 s: the pids of workers RUNNING under supervisord and in RQ."""

    def __init__(self, box: Box, client) -> None:
        super().__init__(daemon=True)
        self.socket = f"unix://{box.root}/var/supervisor.sock"
        self.client = client
        self.samples: list[tuple[float, set[int]]] = []
        self.done = threading.Event()

    def up(self) -> set[int]:
        """Pids of the workers up now (none while supervisord does not answer)."""
        rpc = xmlrpc.client.ServerProxy("http://127.0.0.1", SupervisorTransport(None, None, self.socket))
        try:  # a fresh connection each time: one that failed cannot be reused
            infos = rpc.supervisor.getAllProcessInfo()
        except (OSError, xmlrpc.client.Error):
            return set()
        running = {i["pid"] for i in infos if i["group"] in WORKER_GROUPS and i["statename"] == "RUNNING"}
        return running & {w.pid for w in Worker.all(connection=self.client)}

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.samples.append((time.monotonic(), self.up()))

    def stop(self) -> list[tuple[float, set[int]]]:
        self.done.set()
        self.join(timeout=10)
        return self.samples


def restart_under_load(box: Box, fake_api, client, clip: bytes) -> tuple[set[int], set[int]]:
    """Queue videos, run rolling_restart mid-job, wait for every GIF. Return the up pids before
    and after, and assert a worker was up at every sample and each chat got one GIF."""
    watch = UpWatch(box, client)
    before = watch.up()
    asked = len(fake_api.calls("getFile"))
    messages = send_videos(fake_api, clip, VIDEOS_PER_RESTART)
    wait_until(lambda: len(fake_api.calls("getFile")) >= asked + 2, timeout=30, what="2 jobs downloading")
    watch.start()
    started, started_wall = time.monotonic(), time.time()
    result = supervise(box, "rolling_restart")
    took = time.monotonic() - started
    wait_until(
        lambda: all(fake_api.sent_animations(chat) for chat, _ in messages) and all_done(client, messages),
        timeout=RESTART_TIMEOUT_S,
        what="a GIF in every chat and every job ended",
    )
    samples = watch.stop()
    print(result.stdout, result.stderr, sep="\n")
    print(f"rolling_restart took {took:.1f} s; {len(samples)} samples; fewest workers up: "
          f"{min(len(up) for _, up in samples)}")  # fmt: skip
    assert result.returncode == 0, result.stderr
    gaps = [round(at - started, 1) for at, up in samples if not up]
    assert not gaps, f"no worker up at these seconds into the restart: {gaps}"
    per_chat = {chat: len(fake_api.sent_animations(chat)) for chat, _ in messages}
    assert set(per_chat.values()) == {1}, per_chat
    assert {job_status(client, c, m) for c, m in messages} == {JobStatus.FINISHED}
    finished_by_old = [job.id for job in (fetch_job(client, c, m) for c, m in messages)
                       if worker_pid(job) in before and ended(job) > started_wall]  # fmt: skip
    assert finished_by_old, "no stopping worker was mid-job: the restart proved nothing"
    return before, watch.up()


def worker_pid(job: Job) -> int:
    """The pid in the RQ worker name (host.pid) of the job's last worker."""
    return int(job.worker_name.rsplit(".", 1)[1])


def ended(job: Job) -> float:
    """When the job ended, as a Unix time (RQ stores UTC)."""
    at = job.ended_at
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


@pytest.fixture
def worker_box(request, fake_api, redis_client, redis_server, stack, tmp_path):
    """A worker box of 2 workers on the session Redis, and a real bot queueing for it."""
    env = box_env(fake_api, redis_server.url, tmp_path / "box" / "tmp")
    env.pop("WORKERS", None)  # it comes from the environment file, as setup.sh writes it
    box = Box("W", tmp_path / "box", "supervisord.worker.conf", env)
    write_env(box, workers=2)
    try:
        box.start()
        stack.bot()
        watch = UpWatch(box, redis_client)
        wait_until(lambda: len(watch.up()) == 2, timeout=START_TIMEOUT_S, what="2 workers up")
        yield box
    finally:
        leftover = box.stop()
        report = getattr(request.node, "rep_call", None)
        if report is None or report.failed:
            print(box.logs())
    assert not leftover, f"processes outlived their supervisord: {leftover}"


def test_rerun_restarts_workers_one_at_a_time_with_one_always_up(
    worker_box: Box, fake_api, redis_client, clip_bytes
):
    """An upgrade re-run restarts every worker, one always up, and each queued video gets one GIF."""
    fake_api.set_delay(FILE_DOWNLOAD, DOWNLOAD_DELAY_S)
    before, after = restart_under_load(worker_box, fake_api, redis_client, clip_bytes)
    assert len(before) == len(after) == 2 and not before & after, (before, after)


@pytest.mark.slow
def test_rerun_with_a_new_worker_count_replaces_the_group_behind_a_bridge_worker(
    worker_box: Box, fake_api, redis_client, clip_bytes
):
    """WORKERS 2 -> 3 reaches the running supervisord; a bridge worker keeps one up meanwhile."""
    fake_api.set_delay(FILE_DOWNLOAD, DOWNLOAD_DELAY_S)
    write_env(worker_box, workers=3)
    before, after = restart_under_load(worker_box, fake_api, redis_client, clip_bytes)
    assert len(after) == 3 and not before & after, (before, after)
    assert set(worker_box.status()) == {f"worker:worker-{n}" for n in range(3)}, worker_box.status()
    assert not (worker_box.root / "var/supervisord.d/worker-bridge.conf").exists()
