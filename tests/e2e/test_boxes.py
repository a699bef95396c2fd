"""Two boxes on one machine, each under its own supervisord: README "Scaling out", for real.

Box A runs the repo's supervisord.conf (redis, bot, admin, scheduler and WORKERS=1); box B runs
supervisord.worker.conf (WORKERS=2) against A's Redis. A box is a temp dir holding copies of the
conf file and config/: every path in them is relative to the conf's dir (%(here)s), so each box
has its own var/, socket and logs, and its programs import the repo's code through PYTHONPATH.
A job's box is told by its RQ worker name (host.pid by default): the pid runs under one box's
supervisord. Fixed per-slot names would not do: RQ refuses a name whose key is still alive, so a
worker that supervisord restarts after a crash could not register for ~95 s.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from rq import Worker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from core.models import job_id_for
from tests import factories
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.gifcheck import all_done, job_status
from tests.media import make_clip
from tests.procs import alive, process_tree
from tests.services import REPO_ROOT, free_port, wait_until

BURST = 30
QUEUE = "gifs"
START_TIMEOUT_S = 120  # two supervisords, gunicorn and four Pythons on a shared 2-core machine
BURST_TIMEOUT_S = 400
STOP_TIMEOUT_S = 60
MAIN_PROGRAMS = {"redis", "bot", "admin", "scheduler", "worker:worker-0"}
WORKER_PROGRAMS = {"worker:worker-0", "worker:worker-1"}

_user_ids = itertools.count(90_000)


# ---------------------------------------------------------------- processes, read from /proc


def signal_all(pids: set[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def kill_tree(root: int) -> set[int]:
    """Freeze `root` and everything below it until nothing new appears (a stopped process cannot
    fork), then SIGKILL them all at once, as if the box lost power. Return the pids killed."""
    frozen: set[int] = set()
    while new := process_tree(root) - frozen:
        signal_all(new, signal.SIGSTOP)
        frozen |= new
    signal_all(frozen, signal.SIGKILL)
    return frozen


# ---------------------------------------------------------------- a box


@dataclass
class Box:
    """A dir with a copy of one supervisord conf and config/, run by its own `supervisord -n`."""

    name: str
    root: Path
    conf_name: str
    env: dict[str, str]
    process: subprocess.Popen | None = None

    @property
    def conf(self) -> Path:
        return self.root / self.conf_name

    def start(self) -> Box:
        """Copy the conf files into the box dir and start supervisord in the foreground."""
        shutil.copytree(REPO_ROOT / "config", self.root / "config", dirs_exist_ok=True)
        shutil.copy(REPO_ROOT / self.conf_name, self.conf)
        for sub in ("var/log", "var/redis"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        password = urlsplit(self.env.get("REDIS_URL", "")).password  # as setup.sh writes it
        auth = f"requirepass {password}\nmasterauth {password}\n" if password else "# no password\n"
        (self.root / "var/redis-auth.conf").write_text(auth)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "--nodaemon", "-c", str(self.conf)],
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=(self.root / "supervisord.out").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def status(self) -> dict[str, str]:
        """`supervisorctl -c <conf> status` as {program: state}; empty while it does not answer."""
        argv = [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(self.conf), "status"]
        out = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=30).stdout
        rows = [line.split() for line in out.splitlines()]
        return {row[0]: row[1] for row in rows if len(row) >= 2 and row[1].isupper()}

    def running(self, programs: set[str]) -> bool:
        """True when exactly `programs` are RUNNING (startsecs passed) under this box."""
        return self.status() == dict.fromkeys(programs, "RUNNING")

    def pids(self) -> set[int]:
        """supervisord and every process below it."""
        return process_tree(self.process.pid) if self.process else set()

    def kill(self) -> set[int]:
        """SIGKILL supervisord and everything below it at once; return the pids killed."""
        killed = kill_tree(self.process.pid) if self.process else set()
        if self.process:
            self.process.wait(timeout=10)
        wait_until(lambda: not any(alive(p) for p in killed), timeout=10, what=f"box {self.name} gone")
        return killed

    def stop(self) -> set[int]:
        """Stop supervisord as ops would (SIGTERM); SIGKILL whatever is left. Return pids left over."""
        if self.process is None or self.process.poll() is not None:
            return set()
        before = self.pids()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return self.kill()
        with contextlib.suppress(AssertionError):  # horses and ffmpeg die with their parent
            wait_until(lambda: not any(alive(p) for p in before), timeout=5)
        leftover = {p for p in before if alive(p)}
        signal_all(leftover, signal.SIGKILL)
        return leftover

    def logs(self) -> str:
        files = [self.root / "supervisord.out", *sorted((self.root / "var/log").glob("*.log"))]
        return "\n".join(
            f"----- box {self.name}: {f.name} -----\n{f.read_text(errors='replace')[-4000:]}"
            for f in files
            if f.exists()
        )


def box_env(fake_api: FakeTelegramAPI, redis_url: str, tmp: Path, **settings: str) -> dict[str, str]:
    """The environment a box's supervisord starts with: venv first on PATH, repo on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "WORKER_NAME"}
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONPATH=os.pathsep.join(p for p in [str(REPO_ROOT), env.get("PYTHONPATH", "")] if p),
        PYTHONUNBUFFERED="1",
        TELEGRAM_BOT_TOKEN=fake_api.token,
        TELEGRAM_API_URL=fake_api.base_url,
        REDIS_URL=redis_url,
        RETRY_INTERVAL="1",
        GIFBOT_TMP_DIR=str(tmp),
        GIFBOT_USER=pwd.getpwuid(os.geteuid()).pw_name,  # this test's user (root here and in CI)
        LOG_LEVEL="INFO",
        **settings,
    )
    return env


def healthz(port: int) -> dict | None:
    """The admin panel's /healthz JSON, or None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            return json.load(reply)
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return None


def serves(client: redis.Redis, box: Box) -> bool:
    """True when the Redis at `client` answers and is the one running under `box` (not a stranger
    that took the port first on this shared machine)."""
    try:
        return client.info("server")["process_id"] in box.pids()
    except redis.RedisError:
        return False


@dataclass
class Boxes:
    main: Box
    workers: Box
    redis: redis.Redis

    def worker_owners(self) -> dict[str, str]:
        """RQ worker name -> box name, by whose supervisord the worker's pid runs under."""
        trees = {box.name: box.pids() for box in (self.main, self.workers)}
        return {
            w.name: next((name for name, pids in trees.items() if w.pid in pids), "?")
            for w in Worker.all(connection=self.redis)
        }


@pytest.fixture
def boxes(request: pytest.FixtureRequest, fake_api: FakeTelegramAPI, tmp_path: Path) -> Iterator[Boxes]:
    """Box A (redis, bot, admin, scheduler, 1 worker) and box B (2 workers on A's Redis), running."""
    redis_port, admin_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    main = Box("A", tmp_path / "box-a", "supervisord.conf", box_env(
        fake_api, redis_url, tmp_path / "box-a" / "tmp", WORKERS="1", REDIS_PORT=str(redis_port),
        ADMIN_HOST="127.0.0.1", ADMIN_PORT=str(admin_port), ADMIN_PASSWORD="box-test-password",
        AUTOSTART_BOT="true",
    ))  # fmt: skip
    workers = Box("B", tmp_path / "box-b", "supervisord.worker.conf", box_env(
        fake_api, redis_url, tmp_path / "box-b" / "tmp", WORKERS="2",
    ))  # fmt: skip
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        main.start()
        wait_until(lambda: serves(client, main), timeout=START_TIMEOUT_S, what="box A's redis to answer")
        workers.start()
        wait_until(lambda: main.running(MAIN_PROGRAMS), timeout=START_TIMEOUT_S, what="box A RUNNING")
        wait_until(lambda: workers.running(WORKER_PROGRAMS), timeout=START_TIMEOUT_S, what="box B RUNNING")
        wait_until(
            lambda: (healthz(admin_port) or {}).get("workers") == 3,
            timeout=START_TIMEOUT_S,
            what="/healthz on box A to count the 3 workers of both boxes",
        )
        yield Boxes(main, workers, client)
    finally:
        leftover = {box.name: box.stop() for box in (workers, main)}
        failed = getattr(request.node, "rep_call", None)
        if failed is None or failed.failed:
            print(main.logs(), workers.logs(), sep="\n")
    assert not any(leftover.values()), f"processes outlived their supervisord: {leftover}"


@pytest.fixture(scope="module")
def box_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """3 s of 640x360 test pattern: about a second to convert, so a kill lands mid-job."""
    return make_clip(tmp_path_factory.mktemp("box-clip"), seconds=3.0).read_bytes()


# ---------------------------------------------------------------- helpers


def send_videos(fake_api: FakeTelegramAPI, clip: bytes, count: int) -> list[tuple[int, int]]:
    """Push `count` videos from distinct users in one getUpdates batch; return (chat, message)."""
    updates = []
    for _ in range(count):
        user = next(_user_ids)
        updates.append(factories.make_video_update(fake_api.add_file(clip), user_id=user, chat_id=user))
    fake_api.push_updates(updates)
    return [(u["message"]["chat"]["id"], u["message"]["message_id"]) for u in updates]


def fetch_job(client: redis.Redis, chat: int, msg: int) -> Job:
    return Job.fetch(job_id_for(chat, msg), connection=client, serializer=JSONSerializer)


def running_on(client: redis.Redis, worker_names: set[str]) -> set[str]:
    """Ids of jobs in the started registry whose worker is one of `worker_names`."""
    registry = StartedJobRegistry(QUEUE, connection=client, serializer=JSONSerializer)
    found = set()
    for job_id in registry.get_job_ids(cleanup=False):  # cleanup would do the recovery for the app
        with contextlib.suppress(Exception):  # the job ended and expired while we looked
            job = Job.fetch(job_id, connection=client, serializer=JSONSerializer)
            if job.worker_name in worker_names:
                found.add(job_id)
    return found


def describe(client: redis.Redis, fake_api: FakeTelegramAPI, owners: dict[str, str]) -> str:
    """What the queue and the fake saw, for a failure message."""
    registry = StartedJobRegistry(QUEUE, connection=client, serializer=JSONSerializer)
    started = registry.get_job_ids(cleanup=False)
    workers = {w.name: w.get_state() for w in Worker.all(connection=client)}
    return (
        f"GIFs sent: {len(fake_api.sent_animations())}, queued: {client.llen(f'rq:queue:{QUEUE}')}, "
        f"started: {started}, workers: {workers}, owners: {owners}"
    )


def wait_for_burst(fake_api: FakeTelegramAPI, client: redis.Redis, messages: list[tuple[int, int]]) -> None:
    """Wait until every message has a GIF and every job has ended."""
    fake_api.wait_for(
        lambda: len(fake_api.sent_animations()) >= len(messages), timeout=BURST_TIMEOUT_S, message="all GIFs"
    )
    wait_until(lambda: all_done(client, messages), timeout=60, what="all jobs ended")


def assert_one_gif_per_chat(fake_api: FakeTelegramAPI, messages: list[tuple[int, int]]) -> None:
    per_chat = {chat: len(fake_api.sent_animations(chat)) for chat, _ in messages}
    assert per_chat == dict.fromkeys(per_chat, 1), {c: n for c, n in per_chat.items() if n != 1}
    assert len(fake_api.sent_animations()) == len(messages)


# ---------------------------------------------------------------- tests


def test_burst_runs_on_both_boxes_and_every_chat_gets_one_gif(boxes: Boxes, fake_api, box_clip):
    """30 videos with workers on two boxes: 30 GIFs, one per chat, and both boxes ran jobs."""
    owners = boxes.worker_owners()
    assert sorted(owners.values()) == ["A", "B", "B"], owners

    messages = send_videos(fake_api, box_clip, BURST)
    wait_for_burst(fake_api, boxes.redis, messages)

    assert_one_gif_per_chat(fake_api, messages)
    assert {job_status(boxes.redis, c, m) for c, m in messages} == {JobStatus.FINISHED}
    ran_on = Counter(owners.get(fetch_job(boxes.redis, c, m).worker_name, "?") for c, m in messages)
    print(f"jobs per box: {dict(ran_on)}")
    assert set(ran_on) == {"A", "B"}, ran_on


def test_worker_box_killed_mid_burst_main_box_delivers_every_gif_once(boxes: Boxes, fake_api, box_clip):
    """Box B SIGKILLed whole mid-burst: box A recovers B's jobs; 30 GIFs, none twice, A unharmed."""
    owners = boxes.worker_owners()
    on_b = {name for name, box in owners.items() if box == "B"}
    assert len(on_b) == 2, owners

    messages = send_videos(fake_api, box_clip, BURST)
    chat_of = {job_id_for(chat, msg): chat for chat, msg in messages}
    try:
        # Both of B's workers mid-job (in the started registry): a worker killed between dequeue
        # and its horse registering the job leaves it in RQ's intermediate queue, which RQ only
        # sweeps after a minute; that slower path is real but would make this test ~70 s longer.
        wait_until(
            lambda: len(fake_api.sent_animations()) >= 3 and len(running_on(boxes.redis, on_b)) == 2,
            timeout=120,
            what="a few GIFs out and both of box B's workers mid-job",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {describe(boxes.redis, fake_api, owners)}") from None
    killed = boxes.workers.kill()
    killed_at = time.monotonic()
    abandoned = running_on(boxes.redis, on_b)  # started on B, which is gone: only recovery ends them
    delivered_at_kill = len(fake_api.sent_animations())
    print(f"killed {len(killed)} processes of box B; {len(abandoned)} jobs abandoned mid-run; "
          f"{delivered_at_kill} GIFs already sent")  # fmt: skip
    assert abandoned, "box B was between jobs when it died: nothing to recover"
    assert delivered_at_kill < BURST, "the burst was over before the kill"

    wait_for_burst(fake_api, boxes.redis, messages)

    assert_one_gif_per_chat(fake_api, messages)
    assert {job_status(boxes.redis, c, m) for c, m in messages} == {JobStatus.FINISHED}
    for job_id in abandoned:
        job = Job.fetch(job_id, connection=boxes.redis, serializer=JSONSerializer)
        assert owners.get(job.worker_name) == "A", f"{job_id} last ran on {job.worker_name}"
    recovered_in = max(fake_api.sent_animations(chat_of[j])[0].at - killed_at for j in abandoned)
    burst_done_in = max(call.at for call in fake_api.sent_animations()) - killed_at
    print(f"after the kill: abandoned jobs' GIFs sent within {recovered_in:.1f} s, "
          f"the burst's last GIF at {burst_done_in:.1f} s")  # fmt: skip
    assert boxes.main.running(MAIN_PROGRAMS), boxes.main.status()
