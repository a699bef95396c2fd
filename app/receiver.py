"""Taking in raw updates (from getUpdates or the webhook): store, wake the lanes, or tell the users.

An update counts as received once it is stored in its chat's inbox (and replicated where Redis has
replicas); only then may it be confirmed to Telegram. While Redis is away nothing is stored, so
nothing is confirmed: each sender of a video is told once that it will be converted shortly.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import telebot
from redis import Redis

from app import inbox
from app.commands import lang_of
from app.lanes import ChatLanes
from app.replies import Replier
from app.videos import find_video
from core.connection import REDIS_DOWN, Pinned, replicated
from core.outage import Outage
from core.texts import text

SWEEP_EVERY_S = 5.0  # look for stored updates no lane is handling (after a restart or an outage)
TOLD_MEMORY = 10_000  # update ids whose senders were told about an outage


class Receiver:
    """Stores batches of raw updates and hands their chats to the lanes."""

    def __init__(self, bot: telebot.TeleBot, redis: Redis, lanes: ChatLanes) -> None:
        self.bot = bot
        self.redis = redis
        self.lanes = lanes
        self.outage = Outage("the bot")
        self.told: deque[int] = deque(maxlen=TOLD_MEMORY)
        self.replier = Replier(bot, redis)  # paced on local time while Redis is away
        self.swept_at = 0.0
        self.retry_in = 0.0  # after a batch could not be stored: back off this long

    def take(self, updates: list[dict[str, Any]]) -> bool:
        """Store a batch and wake its chats' lanes: True if it may be confirmed to Telegram."""
        try:
            with Pinned(self.redis) as pinned:  # the store and its replication check on one server
                offered = inbox.store(pinned, updates, time.time())
                replicated(pinned)
        except REDIS_DOWN as exc:
            self.retry_in = self.outage.failed(exc)
            self.tell_later(updates)
            return False
        if self.outage.active:
            self.outage.recovered()
            self.swept_at = 0.0  # look at every stored chat again
        for raw, item in zip(updates, offered, strict=True):
            if item.outcome is inbox.Stored.STORED:
                self.lanes.wake(item.chat_id)
            elif item.outcome is inbox.Stored.OVERFLOW:
                self.lanes.call_soon(lambda full=raw: self.notice_full(full))
        return True

    def sweep_now_and_then(self) -> None:
        """Every few seconds, wake the lanes of chats with stored updates (resumes after a crash)."""
        if time.monotonic() - self.swept_at < SWEEP_EVERY_S:
            return
        try:
            self.lanes.sweep()
        except REDIS_DOWN:
            return
        self.swept_at = time.monotonic()

    def tell_later(self, updates: list[dict[str, Any]]) -> None:
        """Tell each sender of a video once that it will be converted when we can store it."""
        for raw in updates:
            message = telebot.types.Update.de_json(raw).message
            if message is None or raw["update_id"] in self.told or find_video(message) is None:
                continue
            if message.chat.type != "private":  # a group's videos may not even be for us: no spam
                continue
            self.told.append(raw["update_id"])
            body = text("video_later", lang_of(message))
            self.lanes.call_soon(lambda m=message, b=body: self.replier.reply(m, b))

    def notice_full(self, raw: dict[str, Any]) -> None:
        """Tell a chat whose inbox overflowed that the excess was not taken (once a minute at most)."""
        message = telebot.types.Update.de_json(raw).message
        if message is not None and message.chat.type == "private":  # a group's flood is everyone's
            self.replier.reply(message, text("inbox_full", lang_of(message), max_inbox=inbox.INBOX_MAX))
