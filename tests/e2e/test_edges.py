"""Exactly once at the edges, with real processes: a long Redis outage mid-conversion, and
maintenance that runs in the scheduler process while every worker is busy.

To hold a conversion in flight for as long as a test needs on any machine, `slowed` lets a worker's
ffmpeg run only a sliver of each second (SIGSTOP/SIGCONT), like a badly overloaded box.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from rq import Queue, Worker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from rq_scheduler import Scheduler

from core import contract
from core.models import job_id_for
from jobs import maintenance, worker
from jobs.scheduler import JSONJob, scheduler_now
from tests import factories, media
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.gifcheck import all_done
from tests.procs import descendants, process_table
from tests.services import Proc, RedisServer, Stack, wait_until

QUEUE = "gifs"
RETRY_MAX = 3  # Settings' default, which the stack leaves in place
HEARTBEAT_TTL_S = worker.JOB_MONITORING_INTERVAL_S + worker.HEARTBEAT_GRACE_S
MIN_OUTAGE_S = 22  # longer than a job's heartbeat TTL (15 s), so every heartbeat lapses
RUN_SLICE_S = 0.01  # a slowed ffmpeg runs this long in each second
# The periodic jobs older versions stored in rq-scheduler: (id, function path, every n seconds).
LEGACY_SCHEDULES = (
    ("maintenance_recover_abandoned", contract.RECOVER_ABANDONED, 10),
    ("maintenance_sample_depth", contract.SAMPLE_DEPTH, 60),
    ("maintenance_sweep_temp", contract.SWEEP_TEMP, 600),
)

_user_ids = itertools.count(70_000)


# ---------------------------------------------------------------- helpers


def send_videos(fake_api: FakeTelegramAPI, data: bytes, count: int) -> list[tuple[int, int, str]]:
    """Push `count` videos from distinct users; return (chat, message, file_id) for each."""
    updates, sent = [], []
    for _ in range(count):
        user = next(_user_ids)
        record = fake_api.add_file(data)
        update = factories.make_video_update(record, user_id=user, chat_id=user)
        updates.append(update)
        sent.append((user, update["message"]["message_id"], record.file_id))
    fake_api.push_updates(updates)
    return sent


def ffmpegs_under(proc: Proc) -> list[int]:
    """Pids of the ffmpeg processes below one of our processes' work horses (a conversion; not the
    worker's own start-up check of what ffmpeg can do, which is its direct child)."""
    table = process_table()
    return [
        pid
        for pid in descendants(proc.popen.pid, table)
        if table[pid][1] == "ffmpeg" and table[pid][0] != proc.popen.pid
    ]


def signal_each(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@contextlib.contextmanager
def slowed(proc: Proc) -> Iterator[None]:
    """While the block runs, the ffmpeg under `proc` runs RUN_SLICE_S of every second."""
    done = threading.Event()

    def throttle() -> None:
        while not done.is_set():
            pids = ffmpegs_under(proc)
            signal_each(pids, signal.SIGCONT)
            done.wait(RUN_SLICE_S)  # a duty cycle, not a wait for anything
            signal_each(pids, signal.SIGSTOP)
            done.wait(1 - RUN_SLICE_S)

    thread = threading.Thread(target=throttle, name="slow-ffmpeg", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
        signal_each(ffmpegs_under(proc), signal.SIGCONT)


def running(client: redis.Redis) -> dict[str, float]:
    """job id -> when its heartbeat lapses, read from RQ's started registry without RQ's cleanup
    (its readers re-queue abandoned jobs first: the test must not do the scheduler's work)."""
    key = StartedJobRegistry(QUEUE, connection=client, serializer=JSONSerializer).key
    entries = client.zrange(key, 0, -1, withscores=True)  # members are "<job id>:<execution id>"
    return {member.decode().rsplit(":", 1)[0]: score for member, score in entries}


def pass_since(client: redis.Redis, task: str, since: float) -> maintenance.Pass | None:
    """The scheduler's last pass of `task`, if it started after `since` (unix time)."""
    done = maintenance.last_passes(client).get(task)
    return done if done is not None and done.started > since else None


def fetch(client: redis.Redis, job_id: str) -> Job:
    return Job.fetch(job_id, connection=client, serializer=JSONSerializer)


def not_maintenance(job_ids: list[str]) -> list[str]:
    """The ids among `job_ids` that are not user videos (maintenance jobs would show up here)."""
    return [job_id for job_id in job_ids if not job_id.startswith("gif_")]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """15 s of noisy 1280x720 video: a conversion of a few CPU seconds, which `slowed` stretches."""
    directory = tmp_path_factory.mktemp("edges")
    source = "testsrc2=size=1280x720:rate=25:duration=15,noise=alls=12:allf=t"
    media.ffmpeg("-f", "lavfi", "-i", source, "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset",
                 "ultrafast", "-crf", "32", str(directory / "long.mp4"))  # fmt: skip
    return (directory / "long.mp4").read_bytes()


# ---------------------------------------------------------------- a long outage


def test_an_outage_longer_than_the_job_heartbeat_mid_conversion_gives_one_gif_from_the_first_run(
    aof_stack: Stack, aof_redis: RedisServer, fake_api: FakeTelegramAPI, long_clip: bytes
):
    """Redis away 22 s+ mid-conversion (every heartbeat lapses): the first run sends the one GIF."""
    client = aof_redis.client()
    processes = [aof_stack.bot(), aof_stack.spawn("scheduler", "jobs.scheduler")]
    workers = [aof_stack.worker(), aof_stack.worker()]  # an idle one could pick up a re-run
    [(chat, msg, file_id)] = send_videos(fake_api, long_clip, 1)
    job_id = job_id_for(chat, msg)
    # The job must be started too: a worker's ffmpeg may be its start-up check (jobs.toolbox).
    busy = wait_until(
        lambda: job_id in running(client) and next((w for w in workers if ffmpegs_under(w)), None),
        timeout=90,
        what="the conversion",
    )

    with slowed(busy):
        lapses_at = running(client)[job_id]
        aof_redis.stop()  # SIGTERM: the AOF is flushed
        stopped_at = time.time()
        wait_until(
            lambda: time.time() >= max(stopped_at + MIN_OUTAGE_S, lapses_at + 5),
            timeout=MIN_OUTAGE_S + HEARTBEAT_TTL_S + 10,
            what="the outage to outlast the job's heartbeat",
        )
        assert ffmpegs_under(busy), "the conversion ended during the outage: the clip is too short"
        aof_redis.start()
        back_at = time.time()
        print(f"outage_seconds={back_at - stopped_at:.1f}")
        wait_until(
            lambda: pass_since(client, "recover_abandoned", back_at), timeout=90, what="recovery after it"
        )
        assert ffmpegs_under(busy), "the conversion ended before recovery looked at it"
        assert fetch(client, job_id).get_status() == JobStatus.STARTED, (
            "recovery took the running job for dead"
        )

    fake_api.wait_for(lambda: fake_api.sent_animations(chat), timeout=120, message="the GIF")
    wait_until(lambda: all_done(client, [(chat, msg)]), timeout=60, what="the job to end")
    assert len(fake_api.sent_animations(chat)) == 1
    assert fetch(client, job_id).get_status() == JobStatus.FINISHED
    assert fetch(client, job_id).retries_left == RETRY_MAX, "an attempt was written off"
    downloads = [c for c in fake_api.calls("getFile", ok_only=False) if c.params.get("file_id") == file_id]
    assert len(downloads) == 1, "the job ran again"
    assert sum(w.log().count(f"job={job_id} converted") for w in workers) == 1
    assert all(p.alive() for p in [*processes, *workers]), "a process exited during the outage"


# ---------------------------------------------------------------- maintenance in the scheduler


def test_an_abandoned_job_is_recovered_while_every_worker_is_busy(
    stack: Stack, fake_api: FakeTelegramAPI, redis_client: redis.Redis, clip_bytes: bytes
):
    """A worker SIGKILLed while the others are busy: the scheduler re-queues its job; no maintenance job."""
    queue = Queue(QUEUE, connection=redis_client, serializer=JSONSerializer)
    stack.bot()
    stack.spawn("scheduler", "jobs.scheduler")
    workers = {proc.name: proc for proc in (stack.worker() for _ in range(3))}
    fake_api.set_delay("getFile", 55)  # every worker is busy (in getFile) for 55 s, under the 60 s timeout
    videos = send_videos(fake_api, clip_bytes, 3)
    job_ids = [job_id_for(chat, msg) for chat, msg, _ in videos]
    wait_until(lambda: len(running(redis_client)) == 3, timeout=60, what="three jobs running")

    doing = {w.get_current_job_id(): w.name for w in Worker.all(connection=redis_client)}
    dead_job = job_ids[0]
    workers[doing[dead_job]].kill_group(signal.SIGKILL)
    killed_at = time.monotonic()
    seen: dict[str, maintenance.Pass] = {}
    requeued: list[float] = []

    def recovered() -> bool:
        """The job is back in the queue and the pass that put it there has written its record (the
        record comes after the re-queue, so one poll may see the job and not yet the record)."""
        assert not_maintenance([*queue.get_job_ids(), *running(redis_client)]) == []
        for task, done in maintenance.last_passes(redis_client).items():
            if task not in seen or done.result:
                seen[task] = done
        if not requeued and dead_job in queue.get_job_ids():
            requeued.append(time.monotonic())
        return bool(requeued) and "recover_abandoned" in seen and bool(seen["recover_abandoned"].result)

    wait_until(recovered, timeout=90, what="the abandoned job back in the queue, and its pass recorded")
    print(f"recovery_seconds={requeued[0] - killed_at:.1f}")
    busy = [fetch(redis_client, job_id).get_status() for job_id in job_ids[1:]]
    assert busy == [JobStatus.STARTED] * 2, "recovery waited for a free worker"
    assert seen["recover_abandoned"].result == 1 and not seen["recover_abandoned"].error
    depth = seen["sample_depth"]
    assert depth.started <= depth.ended and depth.result is not None and not depth.error

    fake_api.set_delay("getFile", 0)
    wait_until(lambda: all_done(redis_client, [(c, m) for c, m, _ in videos]), timeout=120, what="all jobs")
    assert {chat: len(fake_api.sent_animations(chat)) for chat, _, _ in videos} == {
        chat: 1 for chat, _, _ in videos
    }
    assert redis_client.zcard(Scheduler.scheduled_jobs_key) == 0, "a periodic job is scheduled on RQ"


def test_legacy_maintenance_schedules_are_cancelled_when_the_scheduler_starts(
    stack: Stack, redis_client: redis.Redis
):
    """Older versions' rq-scheduler schedules (maintenance_*) are cancelled; none reaches the queue."""
    old = Scheduler(queue_name=QUEUE, connection=redis_client, job_class=JSONJob)
    for job_id, func, every in LEGACY_SCHEDULES:  # exactly as older versions stored them
        old.schedule(scheduler_now(), func, id=job_id, interval=every, repeat=None, result_ttl=every * 2,
                     timeout=120, description=f"maintenance: {job_id}")  # fmt: skip
    assert all(job_id in old for job_id, _, _ in LEGACY_SCHEDULES)

    stack.spawn("scheduler", "jobs.scheduler")
    wait_until(lambda: maintenance.last_passes(redis_client), timeout=60, what="the scheduler's first pass")

    assert [job_id for job_id, _, _ in LEGACY_SCHEDULES if job_id in old] == []
    assert Queue(QUEUE, connection=redis_client, serializer=JSONSerializer).get_job_ids() == []
