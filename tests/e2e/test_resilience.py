"""Resilience: kill or restart real processes (work horse, ffmpeg, worker, bot, redis-server) mid-flight.

Every test ends in the same promise: each video gets exactly one GIF, or one clear message.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from app import inbox
from core.models import job_id_for
from core.texts import text
from tests import factories
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.gifcheck import all_done, gif_info, job_status
from tests.procs import alive, descendants, process_table
from tests.services import Proc, wait_until
from tests.textmatch import matches

QUEUE = "gifs"
RETRY_MAX = 3  # Settings' default, which the stack leaves in place
RECOVERY_BUDGET_S = 90

_user_ids = itertools.count(80_000)


# ---------------------------------------------------------------- helpers


def send_video(fake_api: FakeTelegramAPI, data: bytes, **overrides) -> tuple[int, int, str]:
    """Push one video from a fresh user; return (chat, message, file_id)."""
    return send_videos(fake_api, data, 1, **overrides)[0]


def send_videos(
    fake_api: FakeTelegramAPI, data: bytes, count: int, **overrides
) -> list[tuple[int, int, str]]:
    """Push `count` videos from distinct users in one getUpdates batch."""
    updates, files = [], []
    for _ in range(count):
        user = next(_user_ids)
        record = fake_api.add_file(data)
        files.append(record.file_id)
        updates.append(factories.make_video_update(record, user_id=user, chat_id=user, **overrides))
    fake_api.push_updates(updates)
    return [
        (u["message"]["chat"]["id"], u["message"]["message_id"], f)
        for u, f in zip(updates, files, strict=True)
    ]


def fetch_job(client: redis.Redis, chat: int, msg: int) -> Job:
    return Job.fetch(job_id_for(chat, msg), connection=client, serializer=JSONSerializer)


def gif_bytes(call) -> bytes:
    return next(iter(call.files.values()))


def conversion_under(worker: Proc) -> tuple[int, int] | None:
    """(work horse pid, ffmpeg pid) while this worker's horse runs the ffmpeg conversion."""
    table = process_table()
    for horse in descendants(worker.popen.pid, table):
        for child in descendants(horse, table):
            if table[child][1] == "ffmpeg" and table[child][0] == horse:
                return horse, child
    return None


def sigkill(*pids: int) -> None:
    """SIGKILL each pid; one that is already gone is fine."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def make_clip(path: Path, seconds: int) -> bytes:
    """A 640x360 25 fps H.264 clip with some noise, so converting it takes a few seconds."""
    source = f"testsrc2=size=640x360:rate=25:duration={seconds},noise=alls=12:allf=t"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", source, "-pix_fmt", "yuv420p",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "32", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """12 s of 640x360 at 25 fps: long enough to catch ffmpeg mid-conversion."""
    return make_clip(tmp_path_factory.mktemp("slow") / "slow.mp4", seconds=12)


# ---------------------------------------------------------------- worker crashes


def test_killed_horse_and_ffmpeg_mid_conversion_still_give_one_gif(stack, fake_api, redis_client, slow_clip):
    """SIGKILL of the work horse and its ffmpeg mid-conversion: the job is retried, one GIF arrives."""
    worker = stack.worker()
    stack.bot()
    chat, msg, _ = send_video(fake_api, slow_clip)
    horse, ffmpeg = wait_until(lambda: conversion_under(worker), timeout=90, what="ffmpeg under the worker")
    sigkill(horse, ffmpeg)
    assert not fake_api.sent_animations(chat), "the GIF was sent before the kill: the clip is too short"
    wait_until(lambda: not alive(horse) and not alive(ffmpeg), timeout=10, what="horse and ffmpeg gone")

    wait_until(lambda: all_done(redis_client, [(chat, msg)]), timeout=120, what="job ended")
    [sent] = fake_api.sent_animations(chat)
    assert gif_info(gif_bytes(sent)).frames >= 2
    assert job_status(redis_client, chat, msg) == JobStatus.FINISHED
    assert worker.alive()


def test_killed_worker_is_recovered_by_the_other_worker(stack, fake_api, redis_client, slow_clip):
    """A worker's process group SIGKILLed mid-job: the other worker sends exactly one GIF within 90 s."""
    worker_a = stack.worker()
    stack.bot()
    chat, msg, _ = send_video(fake_api, slow_clip)
    wait_until(lambda: conversion_under(worker_a), timeout=90, what="ffmpeg under worker A")
    worker_b = stack.worker()
    tree = descendants(worker_a.popen.pid)  # scheduler, horse, ffmpeg: all must go with A
    worker_a.kill_group(signal.SIGKILL)
    killed_at = time.monotonic()
    assert not fake_api.sent_animations(chat), "the GIF was sent before the kill: the clip is too short"
    try:
        wait_until(lambda: not any(alive(p) for p in tree), timeout=5, what="A's horse and ffmpeg gone")
    finally:
        sigkill(*tree)  # a crashed box loses them all; never leave orphans on a shared machine

    [sent] = fake_api.wait_for(
        lambda: fake_api.sent_animations(chat), timeout=RECOVERY_BUDGET_S + 30, message="GIF after the kill"
    )
    recovery = sent.at - killed_at
    print(f"recovery_seconds={recovery:.1f}")
    wait_until(lambda: all_done(redis_client, [(chat, msg)]), timeout=30, what="job ended")
    assert len(fake_api.sent_animations(chat)) == 1
    assert gif_info(gif_bytes(sent)).frames >= 2
    assert recovery <= RECOVERY_BUDGET_S, f"recovery took {recovery:.1f}s"
    assert worker_b.alive()


def test_killing_a_worker_group_leaves_no_horse_or_ffmpeg_running(stack, fake_api, slow_clip):
    """SIGKILL to a worker's process group (supervisord's killasgroup) ends its horse and ffmpeg too."""
    worker = stack.worker()
    stack.bot()
    send_video(fake_api, slow_clip)
    horse, ffmpeg = wait_until(lambda: conversion_under(worker), timeout=90, what="ffmpeg under the worker")
    worker.kill_group(signal.SIGKILL)
    try:  # SIGKILL is immediate; the conversion itself would run on for about two more seconds
        wait_until(
            lambda: not alive(horse) and not alive(ffmpeg),
            timeout=1,
            what="the work horse and ffmpeg to die with their worker's process group",
        )
    finally:
        sigkill(horse, ffmpeg)  # never leave orphans on a shared machine


# ---------------------------------------------------------------- redis-server restart


def test_redis_restart_with_20_queued_jobs_delivers_each_once(aof_stack, aof_redis, fake_api, clip_bytes):
    """redis-server restarted with 20 jobs queued: 20 GIFs, none twice; a video sent while Redis is
    down is acknowledged as "converted shortly" and converted once Redis is back, without a resend."""
    client = aof_redis.client()
    queue = Queue(QUEUE, connection=client, serializer=JSONSerializer)
    bot = aof_stack.bot()
    queued = send_videos(fake_api, clip_bytes, 20)
    wait_until(lambda: queue.count == 20, timeout=60, what="20 jobs queued")
    # each video is queued, then answered: the bot is idle once the 20th answer is out
    wait_until(lambda: len(fake_api.calls("sendMessage")) >= 20, timeout=60, what="20 status replies")

    aof_redis.stop()  # SIGTERM: redis flushes its append-only file
    busy_chat, _, _ = send_video(fake_api, clip_bytes)
    pushed_at = time.monotonic()
    [reply] = fake_api.wait_for(
        lambda: fake_api.calls("sendMessage", chat_id=busy_chat), timeout=30, message="reply while redis down"
    )
    assert reply.result["text"] == text("video_later")
    assert reply.at - pushed_at <= 10, f"the reply while Redis was down took {reply.at - pushed_at:.1f}s"

    aof_redis.start()  # same port, same dir: the jobs come back from the AOF
    assert queue.count == 20
    late = send_video(fake_api, clip_bytes)
    [ack] = fake_api.wait_for(
        lambda: fake_api.calls("sendMessage", chat_id=late[0]), timeout=30, message="ack after restart"
    )
    assert matches("status_queued", ack.result["text"]), "the bot did not queue again once redis was back"
    aof_stack.worker()
    aof_stack.worker()

    messages = [(c, m) for c, m, _ in [*queued, late]]
    fake_api.wait_for(lambda: len(fake_api.sent_animations()) >= 22, timeout=240, message="22 GIFs")
    wait_until(lambda: all_done(client, messages), timeout=60, what="all jobs ended")
    per_chat = {chat: len(fake_api.sent_animations(chat)) for chat, _ in [*messages, (busy_chat, 0)]}
    assert per_chat == dict.fromkeys(per_chat, 1)
    told = [
        c for c in fake_api.calls("sendMessage", chat_id=busy_chat) if c.result["text"] == text("video_later")
    ]
    assert len(told) == 1, "the user who sent during the outage was told once, not on every retry"
    assert bot.alive(), "the bot died while redis was down"


# ---------------------------------------------------------------- bot restart


def test_bot_killed_mid_burst_still_gives_every_video_one_gif(stack, fake_api, redis_client, clip_bytes):
    """Bot SIGKILLed while handling a burst of 20: the next bot handles what the dead one stored, 20 GIFs."""
    stack.worker()
    stack.worker()
    fake_api.set_delay("sendMessage", 0.15)  # so the kill lands mid-batch
    bot = stack.bot()
    messages = [(c, m) for c, m, _ in send_videos(fake_api, clip_bytes, 20)]
    fake_api.wait_for(lambda: len(fake_api.calls("sendMessage")) >= 6, timeout=60, message="6 acks")
    bot.kill_group(signal.SIGKILL)
    bot.popen.wait(timeout=10)
    assert len(fake_api.calls("sendMessage")) < 20, "the bot handled the whole burst before the kill"
    assert inbox.pending_chats(redis_client), "nothing was left stored: the test did not exercise the restart"
    fake_api.set_delay("sendMessage", 0)
    new_bot = stack.bot()

    fake_api.wait_for(lambda: len(fake_api.sent_animations()) >= 20, timeout=240, message="20 GIFs")
    wait_until(lambda: all_done(redis_client, messages), timeout=60, what="all jobs ended")
    per_chat = {chat: len(fake_api.sent_animations(chat)) for chat, _ in messages}
    assert per_chat == dict.fromkeys(per_chat, 1)
    assert new_bot.alive()


# ---------------------------------------------------------------- Telegram faults


def test_429_on_send_is_waited_out_without_burning_retries(stack, fake_api, redis_client, clip_bytes):
    """Two 429s (retry_after=2) on sendAnimation: one GIF after the wait, the job FINISHED, no retry used."""
    stack.bot()
    stack.worker()
    fake_api.fail("sendAnimation", 429, times=2, retry_after=2)
    chat, msg, _ = send_video(fake_api, clip_bytes)
    fake_api.wait_for(lambda: fake_api.sent_animations(chat), timeout=90, message="GIF after 429s")
    wait_until(lambda: all_done(redis_client, [(chat, msg)]), timeout=30, what="job ended")
    attempts = fake_api.calls("sendAnimation", chat_id=chat, ok_only=False)
    assert [c.status for c in attempts] == [429, 429, 200]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= 1.95 for gap in gaps), f"did not wait out retry_after: {gaps}"
    job = fetch_job(redis_client, chat, msg)
    assert job.get_status() == JobStatus.FINISHED
    assert job.retries_left == RETRY_MAX, "the 429 cost an RQ retry"


def test_502_on_get_updates_and_get_file_recovers(stack, fake_api, redis_client, clip_bytes):
    """502s on getUpdates (x3) and getFile: the bot keeps polling, the job retries, one GIF arrives."""
    fake_api.fail("getUpdates", 502, times=3)
    fake_api.fail("getFile", 502, times=1)
    bot = stack.bot()
    stack.worker()
    chat, msg, _ = send_video(fake_api, clip_bytes)
    [sent] = fake_api.wait_for(lambda: fake_api.sent_animations(chat), timeout=120, message="GIF after 502s")
    wait_until(lambda: all_done(redis_client, [(chat, msg)]), timeout=30, what="job ended")
    assert gif_info(gif_bytes(sent)).frames >= 2
    polls = [c.status for c in fake_api.calls("getUpdates", ok_only=False)]
    assert polls[:4] == [502, 502, 502, 200]
    assert [c.status for c in fake_api.calls("getFile", ok_only=False)] == [502, 200]
    assert len(fake_api.sent_animations(chat)) == 1
    assert bot.alive()


# ---------------------------------------------------------------- permanent failures


def _truncated_mp4(clip: bytes) -> bytes:
    return clip[: len(clip) // 2]  # ffmpeg writes the moov atom last: half a file has none


def _random_bytes(_clip: bytes) -> bytes:
    return random.Random(6).randbytes(64 * 1024)


@pytest.mark.parametrize(
    ("make_input", "text_key"),
    [(_truncated_mp4, "error_broken"), (_random_bytes, "error_not_video")],
    ids=["truncated-mp4", "random-bytes"],
)
def test_corrupt_file_gets_one_clear_error_without_retries(
    stack, fake_api, redis_client, clip_bytes, make_input, text_key
):
    """A corrupt upload: the status message becomes one clear error within 20 s, getFile called once."""
    stack.bot(RETRY_INTERVAL="30")  # the bot sets the job's Retry; a retry would cost 30 s
    stack.worker(RETRY_INTERVAL="30")
    chat, msg, file_id = send_video(fake_api, make_input(clip_bytes))
    pushed_at = time.monotonic()
    [status] = fake_api.wait_for(
        lambda: fake_api.calls("sendMessage", chat_id=chat), timeout=30, message="ack"
    )
    status_id = status.result["message_id"]
    expected = text(text_key)
    fake_api.wait_for(
        lambda: fake_api.message_text(chat, status_id) == expected, timeout=20, message=f"{text_key} shown"
    )
    assert time.monotonic() - pushed_at <= 20
    wait_until(lambda: all_done(redis_client, [(chat, msg)]), timeout=10, what="job ended")
    assert job_status(redis_client, chat, msg) == JobStatus.FAILED
    downloads = [c for c in fake_api.calls("getFile", ok_only=False) if c.params.get("file_id") == file_id]
    assert len(downloads) == 1, "getFile called again: the permanent failure was retried"
    assert len(fake_api.calls("sendMessage", chat_id=chat)) == 1, "one message, edited; no second reply"
    assert not fake_api.sent_animations(chat)


def test_user_who_blocked_the_bot_is_not_retried(stack, fake_api, redis_client, clip_bytes):
    """sendAnimation answers 403 (bot blocked): sent once, no retry, job FINISHED, worker still alive."""
    bot = stack.bot()
    worker = stack.worker()
    chat, msg, _ = send_video(fake_api, clip_bytes)
    fake_api.fail("sendAnimation", 403, times=5, chat_id=chat)
    fake_api.wait_for(
        lambda: fake_api.calls("sendAnimation", chat_id=chat, ok_only=False), timeout=90, message="a send"
    )
    wait_until(lambda: all_done(redis_client, [(chat, msg)]), timeout=30, what="job ended")
    assert job_status(redis_client, chat, msg) == JobStatus.FINISHED
    assert [c.status for c in fake_api.calls("sendAnimation", chat_id=chat, ok_only=False)] == [403]
    assert worker.alive() and bot.alive()
