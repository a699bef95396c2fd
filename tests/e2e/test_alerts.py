"""Alerts to the admins' chats from the real scheduler process: a worker box stops, videos fail,
a video waits in the queue, Redis goes away; each admin chat gets one message per condition and
a recovered message when it clears (thresholds and the window made small through settings)."""

from __future__ import annotations

import json
import socket
import time
from collections import Counter

from core import keys
from core.models import Outcome
from tests import factories
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.services import wait_until

ADMINS = (-100_111, 222)
ALERT_ENV = {
    "ADMIN_CHAT_IDS": ", ".join(map(str, ADMINS)),
    "ALERT_WINDOW_S": "300",  # longer than the test: a condition that comes back is not told again
    "ALERT_FAILURE_RATE": "0.5",
    "ALERT_FAILURE_MIN": "3",
    "ALERT_QUEUE_WAIT_S": "3",
}
PASS_S = 15  # the scheduler passes every 5 s; a message follows a change within this


def told(fake_api: FakeTelegramAPI, *parts: str, chat: int = ADMINS[0]) -> list[str]:
    """Messages an admin chat got that contain every part."""
    return [m for m in fake_api.messages_to(chat) if all(p in m for p in parts)]


def wait_told(fake_api: FakeTelegramAPI, *parts: str, timeout: float = PASS_S) -> None:
    """Wait until every admin chat got a message containing every part."""
    fake_api.wait_for(
        lambda: all(told(fake_api, *parts, chat=chat) for chat in ADMINS),
        timeout=timeout,
        message=" / ".join(parts),
    )


def kind(message: str) -> str:
    """Which condition a message is about, and whether it is a problem or a recovery."""
    subject = next(s for s in ("worker box", "failed", "queue", "Redis") if s in message)
    return f"{message.split(':')[0]} {subject}"


def test_admins_get_one_message_per_condition_and_a_recovered_one(aof_stack, aof_redis, fake_api, clip_bytes):
    """Failing videos, a stopped worker box (twice), a queued video left waiting and a Redis
    outage: each admin chat gets the same six messages, at most one problem per condition in the
    window, a recovery for each cleared one, and the outage's length once Redis is back."""
    client, box = aof_redis.client(), socket.gethostname()
    aof_stack.bot(RETRY_MAX="0")
    worker = aof_stack.worker()
    scheduler = aof_stack.spawn("scheduler", "jobs.scheduler", **ALERT_ENV)
    wait_until(lambda: client.hget(keys.ALERT_BOXES, box), 60, what="a pass that saw the worker's box")

    fake_api.fail("getFile", 500, times=3)  # Telegram fails three downloads: three failed videos
    fake_api.push_updates(
        [factories.make_video_update(fake_api.add_file(clip_bytes), user_id=u) for u in (1, 2, 3)]
    )
    wait_until(lambda: int(client.hget(keys.TOTALS, Outcome.FAILED) or 0) == 3, 60, what="3 failures")
    worker.stop()  # the box's only worker: the box is gone
    waiting = factories.make_video_update(fake_api.add_file(clip_bytes), user_id=4)
    fake_api.push_update(waiting)
    wait_told(fake_api, "Problem", "3 of 3 videos failed")
    wait_told(fake_api, "Problem", f"worker box {box} disappeared")
    wait_told(fake_api, "Problem", "oldest queued video has waited")

    worker = aof_stack.worker()
    fake_api.wait_for(lambda: fake_api.sent_animations(4), timeout=60, message="the waiting video's GIF")
    wait_told(fake_api, "Recovered", f"worker box {box} is back")
    wait_told(fake_api, "Recovered", "queue wait back under 3 s")
    worker.stop()  # the box goes again within the window: not told again
    wait_until(
        lambda: (raw := client.hget(keys.ALERT_STATE, f"box:{box}")) and not json.loads(raw)["told"],
        PASS_S,
        what="a pass that saw the box gone again",
    )

    aof_redis.stop()
    wait_until(lambda: "redis unreachable" in scheduler.log(), PASS_S, what="the scheduler to notice")
    down_for = time.monotonic()
    aof_redis.start()
    wait_told(fake_api, "Recovered", "Redis was unreachable for", timeout=30)
    down_for = time.monotonic() - down_for

    sequences = [[kind(m) for m in fake_api.messages_to(chat)] for chat in ADMINS]
    assert sequences[0] == sequences[1], "every admin chat gets the same messages"
    assert Counter(sequences[0]) == {
        "Problem failed": 1,
        "Problem worker box": 1,
        "Problem queue": 1,
        "Recovered worker box": 1,
        "Recovered queue": 1,
        "Recovered Redis": 1,
    }, fake_api.messages_to(ADMINS[0])
    [redis_message] = told(fake_api, "Redis")
    seconds = int(redis_message.split("unreachable for ")[1].split(" s")[0])
    assert 1 <= seconds <= down_for + 10, redis_message
    assert all(client.ttl(key) > 0 for key in client.scan_iter(match="gifbot:alerts:*")), "state has TTLs"
