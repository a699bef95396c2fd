"""The work horse forked while the worker waits (jobs.standby): it runs the next job, a dead one is
replaced by a fresh fork, and none outlives the work loop or the worker.

The worker is the real GifWorker on the session's redis-server; its jobs are plain functions that
tell which process ran them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rq.job import JobStatus

from core.admission import gif_queue
from core.settings import Settings
from jobs import runtime, standby
from jobs.worker import GifWorker, build_worker
from tests.procs import alive, descendants, tcp_ports
from tests.services import wait_until

WORKER = "box-s.1"


pytestmark = pytest.mark.usefixtures("rq_signal_handlers")


@pytest.fixture(autouse=True)
def no_standby_left() -> Iterator[None]:
    """A standby a test left waiting goes (the work loop's end closes it too)."""
    yield
    standby.close()


@pytest.fixture
def settings(tmp_path: Path, redis_server: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    values = Settings(redis_url=redis_server.url, tmp_dir=str(tmp_path / "work"), admin_password="x")
    monkeypatch.setattr(runtime, "_settings", values)  # what the worker's registry cleanup reads
    return values


def worker_for(settings: Settings, redis_client: redis.Redis) -> GifWorker:
    return build_worker(settings, WORKER, redis_client)


def test_the_job_runs_in_the_horse_forked_before_it_came(
    settings: Settings, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker forks its standby while it waits; the job then runs in that very process."""
    forked: list[int] = []
    real_start = standby.start

    def start(worker: Any) -> None:
        real_start(worker)
        forked.append(standby._standby.pid if standby._standby else 0)

    monkeypatch.setattr(standby, "start", start)
    job = gif_queue(redis_client, settings).enqueue("os.getpid")

    worker_for(settings, redis_client).work(burst=True, max_jobs=1)

    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert forked and job.return_value() == forked[0] != os.getpid()
    assert not alive(forked[0]), "the horse was reaped"


def test_a_standby_that_died_while_waiting_gives_way_to_a_fresh_horse(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """A standby killed before its job (the OOM killer, say) costs nothing: the job gets a fork."""
    worker = worker_for(settings, redis_client)
    standby.start(worker)
    assert standby._standby is not None
    dead = standby._standby.pid
    os.kill(dead, signal.SIGKILL)
    wait_until(lambda: _zombie(dead), 10, what="the standby to die")
    job = gif_queue(redis_client, settings).enqueue("os.getpid")

    worker.work(burst=True, max_jobs=1)

    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert job.return_value() not in (dead, os.getpid())
    assert not alive(dead)


def test_a_standby_whose_redis_connection_broke_still_runs_its_job(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """The connection a standby opened while it waited is cut (a restart, a failover): the job
    still runs in it, on a new connection."""
    worker = worker_for(settings, redis_client)
    standby.start(worker)
    assert standby._standby is not None
    pid = standby._standby.pid

    def its_redis_ports() -> set[int]:  # a socket it inherited and we closed since is not Redis's
        clients = {int(c["addr"].rsplit(":", 1)[1]) for c in redis_client.client_list()}
        return (tcp_ports(pid) - tcp_ports(os.getpid())) & clients

    own = wait_until(its_redis_ports, 10, what="the standby's connection")
    for port in own:
        redis_client.client_kill(f"127.0.0.1:{port}")
    job = gif_queue(redis_client, settings).enqueue("os.getpid")

    worker.work(burst=True, max_jobs=1)

    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert job.return_value() == pid


def test_the_work_loop_ends_with_no_standby_left(settings: Settings, redis_client: redis.Redis) -> None:
    """A worker that stops (here: a burst with nothing to do) ends its waiting standby."""
    before = set(descendants(os.getpid()))

    worker_for(settings, redis_client).work(burst=True)

    assert standby._standby is None
    assert set(descendants(os.getpid())) <= before


def test_a_killed_worker_takes_its_standby_with_it(settings: Settings, tmp_path: Path) -> None:
    """SIGKILL of an idle worker (no chance to clean up) still ends the horse it forked ahead."""
    script = textwrap.dedent(
        f"""
        from core.settings import Settings
        from jobs import runtime
        from jobs.worker import build_worker
        settings = Settings(redis_url={settings.redis_url!r}, tmp_dir={str(tmp_path / "w2")!r},
                            admin_password="x")
        runtime._settings = settings
        build_worker(settings, "box-s.2").work(burst=False)
        """
    )
    worker = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parent.parent)
    try:
        waiting = wait_until(lambda: _standbys(worker.pid), 30, what="the worker's standby")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        wait_until(lambda: not any(alive(pid) for pid in waiting), 10, what="the standby to go")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)


def _standbys(worker_pid: int) -> list[int]:
    """The worker's children that are Python (not its spare ffprobe runs)."""
    found = []
    for pid in descendants(worker_pid):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if "python" in Path(exe).name:
            found.append(pid)
    return found


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True
