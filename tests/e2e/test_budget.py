"""The global Telegram budget end to end: a burst of users through the bot and two workers, against a
fake Bot API that answers 429 past a global limit, gets no 429 and every GIF exactly once."""

from __future__ import annotations

import itertools
import time

import pytest
import redis
from rq import Worker

from bench.system import Burst
from tests import factories
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.gifcheck import all_done
from tests.services import Stack, wait_until

_user_ids = itertools.count(300_000)


def burst(
    stack: Stack, fake_api: FakeTelegramAPI, client: redis.Redis, clip: bytes, users: int, rate: str = ""
) -> Burst:
    """Start the bot and two workers at TELEGRAM_GLOBAL_RATE=rate (its default if ""), push `users`
    videos from as many users in one batch, and wait until every job ended; assert no 429 and one
    GIF per chat."""
    env = {"TELEGRAM_GLOBAL_RATE": rate} if rate else {}
    procs = [stack.bot(**env)] + [stack.worker(**env) for _ in range(2)]
    wait_until(lambda: Worker.count(connection=client) == 2, timeout=60, what="workers up")
    wait_until(lambda: fake_api.pollers_waiting() > 0, timeout=60, what="the bot polling")
    updates = []
    for user in itertools.islice(_user_ids, users):
        updates.append(factories.make_video_update(fake_api.add_file(clip), user_id=user, chat_id=user))
    messages = [(u["message"]["chat"]["id"], u["message"]["message_id"]) for u in updates]
    pushed_at = time.monotonic()
    fake_api.push_updates(updates)
    fake_api.wait_for(
        lambda: len(fake_api.sent_animations()) >= users, timeout=users * 2 + 60, message="GIFs"
    )
    wait_until(lambda: all_done(client, messages), timeout=120, what="every job ended")
    print(f"busiest second: {fake_api.busiest_second} messages")
    assert fake_api.global_429s == 0, f"{fake_api.global_429s} calls went over the global limit"
    chats = sorted(chat for chat, _ in messages)
    assert sorted(int(c.chat_id or 0) for c in fake_api.sent_animations()) == chats, "not one GIF per chat"
    assert all(p.alive() for p in procs), "a process died during the burst"
    acks = [fake_api.calls("sendMessage", chat_id=chat)[0].at - pushed_at for chat in chats]
    return Burst(acks, max(c.at for c in fake_api.sent_animations()) - pushed_at)


def test_a_burst_under_a_global_limit_gets_no_429_and_every_gif_once(
    stack, fake_api, redis_client, clip_bytes
):
    """30 users at once, the fake allowing 6 messages a second in all: no 429, one GIF each.

    The acks alone would take 5 s at that rate, every message 15 s or more: the budget, not the
    conversions (~8 s of them on two workers), sets the pace, and without it the acks go at once."""
    fake_api.set_global_limit(6)
    # 4/s, not 6: a process that wakes late for its slot sends close to the next one, and a loaded
    # 2-core test box wakes processes up to ~0.2 s late
    result = burst(stack, fake_api, redis_client, clip_bytes, 30, rate="4")
    print(f"30 users at 6/s: ack p99 {result.ack_p99_s:.1f} s, last GIF after {result.total_s:.1f} s")


@pytest.mark.slow
def test_a_burst_of_1000_users_under_telegrams_limit_gets_no_429(stack, fake_api, redis_client, clip_bytes):
    """1,000 users at once, the fake allowing 30 messages a second like Telegram, the budget at its
    default: no 429, one GIF each."""
    fake_api.set_global_limit(30)
    result = burst(stack, fake_api, redis_client, clip_bytes, 1000)
    print(f"1000 users at 30/s: ack p99 {result.ack_p99_s:.1f} s, last GIF after {result.total_s:.1f} s")
