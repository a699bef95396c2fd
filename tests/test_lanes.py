"""app.lanes: each chat's inbox is handled in order, chats in parallel, Redis outages waited out."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import redis
import telebot

from app import inbox
from app.lanes import ChatLanes
from core import keys
from core.connection import connect_url
from tests import factories
from tests.sentinel import SentinelGroup
from tests.services import wait_until


def updates_for(chat_id: int, count: int, first_id: int) -> list[dict]:
    return [
        factories.make_text_update(f"m{n}", user_id=chat_id, chat_id=chat_id, update_id=first_id + n)
        for n in range(count)
    ]


def test_each_chat_is_handled_in_order_and_chats_in_parallel(redis_client: redis.Redis) -> None:
    """A slow chat does not hold up a quick one, and within a chat updates keep their order."""
    seen: dict[int, list[int]] = defaultdict(list)
    slow_started = threading.Event()

    def process(update: telebot.types.Update) -> None:
        chat = update.message.chat.id
        if chat == 1:
            slow_started.set()
            time.sleep(0.2)  # a paced chat: each of its replies takes a while
        seen[chat].append(update.update_id)

    lanes = ChatLanes(redis_client, process, threads=4)
    inbox.store(redis_client, updates_for(1, 5, 100) + updates_for(2, 5, 200), time.time())
    lanes.wake(1)
    slow_started.wait(5)
    lanes.wake(2)
    wait_until(lambda: len(seen[2]) == 5, timeout=5, what="the quick chat")
    assert len(seen[1]) < 5, "the quick chat finished while the slow one was still going"
    wait_until(lambda: len(seen[1]) == 5, timeout=10, what="the slow chat")
    assert seen[1] == list(range(100, 105)) and seen[2] == list(range(200, 205))
    wait_until(lambda: not lanes.busy(), timeout=5, what="idle lanes")
    assert inbox.pending_chats(redis_client) == []
    lanes.stop(1)


def test_a_handler_hitting_a_redis_error_is_retried_not_dropped(redis_client: redis.Redis) -> None:
    """A Redis error in a handler keeps the update stored; it is handled again, then popped."""
    attempts: list[int] = []

    def process(update: telebot.types.Update) -> None:
        attempts.append(update.update_id)
        if len(attempts) == 1:
            raise redis.exceptions.ResponseError("MISCONF Redis is configured to save RDB snapshots")

    lanes = ChatLanes(redis_client, process, threads=2)
    inbox.store(redis_client, updates_for(3, 1, 300), time.time())
    lanes.wake(3)
    wait_until(lambda: inbox.pending_chats(redis_client) == [], timeout=10, what="the update handled")
    assert attempts == [300, 300]
    lanes.stop(1)


def test_a_crashing_handler_skips_that_update_only(redis_client: redis.Redis) -> None:
    """A bug in one update's handler is logged; the chat's next update is still handled."""
    handled: list[int] = []

    def process(update: telebot.types.Update) -> None:
        if update.update_id == 400:
            raise ValueError("a bug")
        handled.append(update.update_id)

    lanes = ChatLanes(redis_client, process, threads=2)
    inbox.store(redis_client, updates_for(4, 2, 400), time.time())
    lanes.wake(4)
    wait_until(lambda: handled == [401], timeout=5, what="the next update")
    lanes.stop(1)


def test_sweep_resumes_inboxes_stored_before_a_restart(redis_client: redis.Redis) -> None:
    """Updates stored by a bot that died are handled by the next one after its sweep."""
    inbox.store(redis_client, updates_for(5, 3, 500), time.time())
    handled: list[int] = []
    lanes = ChatLanes(redis_client, lambda u: handled.append(u.update_id), threads=2)
    lanes.sweep()
    wait_until(lambda: handled == [500, 501, 502], timeout=5, what="the stored updates")
    lanes.stop(1)


def test_waking_a_busy_chat_picks_up_updates_stored_meanwhile(redis_client: redis.Redis) -> None:
    """An update stored while the chat's lane drains is handled by that lane, once."""
    handled: list[int] = []
    gate = threading.Event()

    def process(update: telebot.types.Update) -> None:
        gate.wait(5)
        handled.append(update.update_id)

    lanes = ChatLanes(redis_client, process, threads=4)
    inbox.store(redis_client, updates_for(6, 1, 600), time.time())
    lanes.wake(6)
    inbox.store(redis_client, updates_for(6, 1, 601), time.time())
    lanes.wake(6)
    gate.set()
    wait_until(lambda: handled == [600, 601], timeout=5, what="both updates")
    wait_until(lambda: not lanes.busy(), timeout=5, what="idle lanes")
    assert handled == [600, 601]
    lanes.stop(1)


def test_an_unreadable_stored_update_is_dropped_and_the_chat_goes_on(redis_client: redis.Redis) -> None:
    """A stored update that is not valid JSON is skipped; the chat's next update is still handled."""
    handled: list[int] = []
    redis_client.rpush(keys.inbox(7), "{not json")
    redis_client.zadd(keys.INBOX_CHATS, {"7": time.time()})
    inbox.store(redis_client, updates_for(7, 1, 700), time.time())
    lanes = ChatLanes(redis_client, lambda u: handled.append(u.update_id), threads=2)
    lanes.wake(7)
    wait_until(lambda: handled == [700], timeout=5, what="the next update")
    wait_until(lambda: inbox.pending_chats(redis_client) == [], timeout=5, what="an empty inbox")
    lanes.stop(1)


def test_updates_are_handled_on_the_new_master_while_a_thawed_former_one_still_answers(
    sentinel_group: SentinelGroup,
) -> None:
    """The master freezes through a failover and thaws, still taking writes on the connections the
    bot's pool kept. An update stored before (in both copies) is read, handled and taken out of the
    inbox on the new master: none of it lands on the old one, which drops what it took."""
    client = connect_url(sentinel_group.url)
    inbox.store(client, updates_for(7, 1, 700), time.time())  # idle pooled connection to this master
    wait_until(lambda: inbox.pending_chats(sentinel_group.replica().client()) == [7], timeout=10)
    _old, new = sentinel_group.frozen_through_failover()

    def process(update: telebot.types.Update) -> None:
        client.incr(f"handled:{update.update_id}")

    lanes = ChatLanes(client, process, threads=1)
    lanes.wake(7)
    wait_until(lambda: not lanes.busy(), timeout=30, what="the update handled")
    lanes.stop(1)
    assert new.client().get("handled:700") == b"1"
    assert inbox.pending_chats(new.client()) == []
