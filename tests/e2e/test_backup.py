"""The backup and restore drill of README "Backup and restore", for real.

An old box (an appendonly redis-server with a password, the bot, one worker) has videos queued and
one mid-job when scripts/backup.sh copies its Redis while writes go on. The old box is then lost.
A new, empty box (its own supervisord running supervisord.conf: redis, bot, scheduler, admin, a
worker) gets the backup through scripts/restore.sh; every video gets exactly one GIF, and the data
is still there after its Redis restarts (restore rebuilt the AOF Redis loads at start).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.job import JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from core import keys
from core.models import job_id_for
from tests.e2e.test_boxes import MAIN_PROGRAMS, Box, box_env, send_videos, serves
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.gifcheck import all_done, job_status
from tests.services import REPO_ROOT, RedisServer, free_port, running_stack, stack_env, wait_until

QUEUE = "gifs"
QUEUED = 3  # videos queued, not yet converted, at backup time
PASSWORD = "drill-redis-password-8c1f"
NEW_PASSWORD = "new-box-password-3d9a"  # in var/redis-auth.conf, as setup.sh gives every box one
SLOW_DOWNLOAD_BYTES_S = 200  # the old worker's job is still downloading when the backup is taken
START_TIMEOUT_S = 120
GIF_TIMEOUT_S = 180


def run_script(name: str, *args: str, env: dict[str, str]) -> str:
    """Run scripts/<name> as ops would; fail the test with its output if it fails."""
    argv = ["bash", str(REPO_ROOT / "scripts" / name), *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    print(f"$ {name} {' '.join(args)}\n{done.stdout}{done.stderr}")
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


class Writer(threading.Thread):
    """Keeps writing to Redis (a counter and a log, both in one MULTI) until stopped: a consistent
    snapshot holds as many log entries as the counter says."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(daemon=True)
        self.client, self.done, self.count = client, threading.Event(), 0

    def run(self) -> None:
        while not self.done.is_set():
            with self.client.pipeline(transaction=True) as pipe:
                pipe.incr("drill:count").rpush("drill:log", self.count + 1).execute()
            self.count += 1
            time.sleep(0.002)


class CmdlineWatch(threading.Thread):
    """Reads every process's command line while the backup runs: the password must never be in one."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.done, self.leaks, self.saw_redis_cli = threading.Event(), [], False

    def run(self) -> None:
        while not self.done.is_set():
            for path in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    argv = path.read_bytes().split(b"\0")
                except OSError:
                    continue
                self.saw_redis_cli |= any(arg.endswith(b"redis-cli") for arg in argv[:1])
                if any(PASSWORD.encode() in arg for arg in argv):
                    self.leaks.append(b" ".join(argv))
            time.sleep(0.05)


@pytest.fixture
def new_box(request: pytest.FixtureRequest, fake_api: FakeTelegramAPI, tmp_path: Path) -> Iterator[Box]:
    """An empty box: its own supervisord with supervisord.conf (one worker), not started yet."""
    redis_port = free_port()
    box = Box("new", tmp_path / "box", "supervisord.conf", box_env(
        fake_api, f"redis://:{NEW_PASSWORD}@127.0.0.1:{redis_port}/0", tmp_path / "box" / "tmp", WORKERS="1",
        REDIS_PORT=str(redis_port), ADMIN_HOST="127.0.0.1", ADMIN_PORT=str(free_port()),
        ADMIN_PASSWORD="drill-admin-password", AUTOSTART_BOT="true",
    ))  # fmt: skip
    try:
        yield box
    finally:
        leftover = box.stop()
        report = getattr(request.node, "rep_call", None)
        if report is None or report.failed:
            print(box.logs())
    assert not leftover, f"processes outlived the box's supervisord: {leftover}"


def ready(client: redis.Redis, box: Box) -> bool:
    """True once the box's own Redis answers and has loaded its data."""
    try:
        return serves(client, box) and bool(client.ping())
    except redis.RedisError:
        return False


def supervisorctl(box: Box, *args: str) -> None:
    argv = [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(box.conf), *args]
    subprocess.run(argv, env=box.env, check=True, capture_output=True, timeout=120)


def take_backup_of_old_box(
    request: pytest.FixtureRequest, fake_api: FakeTelegramAPI, old: RedisServer, clip: bytes, tmp_path: Path
) -> tuple[Path, list[tuple[int, int]], int]:
    """Run the old box until one job is mid-download and QUEUED videos wait, back it up while a
    writer writes, then lose the box. Return the backup, the videos and the counter at backup start."""
    client = old.client()
    client.config_set("requirepass", PASSWORD)
    client = redis.Redis(host="127.0.0.1", port=old.port, password=PASSWORD)
    url = f"redis://:{PASSWORD}@127.0.0.1:{old.port}/0"
    queue = Queue(QUEUE, connection=client, serializer=JSONSerializer)
    env = stack_env(fake_api.token, fake_api.base_url, url, tmp_path)
    with running_stack(env, tmp_path / "logs", request) as stack:
        stack.bot()
        worker = stack.worker()
        fake_api.set_file_rate(SLOW_DOWNLOAD_BYTES_S)
        videos = send_videos(fake_api, clip, 1)
        registry = StartedJobRegistry(QUEUE, connection=client, serializer=JSONSerializer)
        wait_until(lambda: registry.get_job_count(cleanup=False) == 1, timeout=60, what="a job running")
        videos += send_videos(fake_api, clip, QUEUED)
        wait_until(lambda: queue.count == QUEUED, timeout=60, what=f"{QUEUED} jobs queued")

        writer, watch = Writer(client), CmdlineWatch()
        writer.start()
        watch.start()
        wait_until(lambda: writer.count > 0, timeout=10, what="writes going on")
        before = writer.count
        run_script("backup.sh", str(tmp_path / "backups"), env={**os.environ, "REDIS_URL": url})
        for thread in (writer, watch):
            thread.done.set()
            thread.join()
        assert not watch.leaks, f"the Redis password was on a command line: {watch.leaks}"
        assert watch.saw_redis_cli, "redis-cli never showed up while the backup ran"
        assert writer.count > before, "no write went on during the backup"
        worker.kill_group(signal.SIGKILL)  # the old box is lost with its job mid-download
        worker.popen.wait(timeout=10)
        assert not fake_api.sent_animations(), "a GIF left the old box; the drill needs them all pending"
    fake_api.set_file_rate(0)
    old.stop()
    [backup] = (tmp_path / "backups").glob("gifbot-redis-*.rdb")
    return backup, videos, before


def test_backup_restored_on_an_empty_box_gives_every_video_one_gif(
    request, fake_api, aof_redis, new_box, clip_bytes, tmp_path
):
    """A backup taken while Redis runs, restored on an empty box: every queued (and the running) video
    gets one GIF, and the data survives a restart of the restored Redis."""
    backup, videos, count_at_start = take_backup_of_old_box(
        request, fake_api, aof_redis, clip_bytes, tmp_path
    )
    assert backup.stat().st_mode & 0o777 == 0o600 and backup.parent.stat().st_mode & 0o777 == 0o700

    new_box.start()
    client = redis.Redis.from_url(new_box.env["REDIS_URL"], socket_connect_timeout=2)
    wait_until(lambda: new_box.running(MAIN_PROGRAMS), timeout=START_TIMEOUT_S, what="the new box RUNNING")
    assert not client.exists(keys.user(videos[0][0])), "the new box was not empty"
    started = time.monotonic()
    out = run_script("restore.sh", "--conf", str(new_box.conf), str(backup), env=new_box.env)
    print(f"restore_seconds={time.monotonic() - started:.1f}")
    assert "AOF rebuilt" in out
    assert serves(client, new_box) and new_box.running(MAIN_PROGRAMS)
    missing = [job_id_for(*video) for video in videos if not client.exists(f"rq:job:{job_id_for(*video)}")]
    assert not missing, f"jobs missing after the restore: {missing}"

    fake_api.wait_for(
        lambda: len(fake_api.sent_animations()) >= len(videos), timeout=GIF_TIMEOUT_S, message="every GIF"
    )
    wait_until(lambda: all_done(client, videos), timeout=60, what="every job ended")
    per_chat = {chat: len(fake_api.sent_animations(chat)) for chat, _ in videos}
    assert per_chat == dict.fromkeys(per_chat, 1), per_chat
    print(f"gifs_after_restore_seconds={time.monotonic() - started:.1f}")

    count = int(client.get("drill:count"))
    assert count >= count_at_start and client.llen("drill:log") == count, "the snapshot is not consistent"
    supervisorctl(new_box, "restart", "redis")
    wait_until(lambda: ready(client, new_box), timeout=30, what="the restored redis back after a restart")
    assert client.get("drill:count") == str(count).encode(), "the restored data did not survive a restart"
    assert {job_status(client, chat, msg) for chat, msg in videos} == {JobStatus.FINISHED}
    assert all(client.exists(keys.user(chat)) for chat, _ in videos), "per-user stats were lost"
