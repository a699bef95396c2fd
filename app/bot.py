"""Build the bot and run its long-polling loop: store each update, confirm it, then handle it.

An update is confirmed to Telegram (the next getUpdates offset) only once app.receiver stored it
in its chat's inbox; while Redis is away nothing is confirmed and Telegram keeps the updates.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

import telebot
from redis import Redis
from telebot import apihelper

from app import command_menu
from app.handlers import Handlers
from app.lanes import ChatLanes
from app.leader import Leadership
from app.receiver import Receiver
from core import telegram
from core.admission import gif_queue
from core.settings import Settings

log = logging.getLogger(__name__)

LONG_POLL_S = 10  # keeps SIGTERM-to-exit under 15 s
ERROR_BACKOFF_S = (1, 2, 5, 10)
CONFLICT = 409  # Telegram's answer to a second client polling the same token
DRAIN_ON_STOP_S = 3.0  # updates still being handled after this are handled again by the next bot


def build_bot(settings: Settings, redis: Redis) -> telebot.TeleBot:
    """A TeleBot with every handler registered; no network call is made here."""
    bot = telegram.build_client(settings, threaded=False)
    Handlers(settings, bot, gif_queue(redis, settings)).register()
    return bot


def instance_name() -> str:
    """How this bot process names itself in the leader lease."""
    return f"{socket.gethostname()}.{os.getpid()}"


class PollInterrupted(Exception):
    """Raised by the signal handler to abandon a long poll at once."""


class Poller:
    """Fetch updates, store them in their chats' inboxes, confirm them, and drain the inboxes."""

    def __init__(self, bot: telebot.TeleBot, redis: Redis, long_poll_s: int = LONG_POLL_S) -> None:
        self.bot = bot
        self.redis = redis
        self.long_poll_s = long_poll_s
        self.stopping = threading.Event()
        self.offset: int | None = None
        self.leadership = Leadership(redis, instance_name())
        self.lanes = ChatLanes(redis, self.process, may_drain=self.leadership.may_poll)
        self.receiver = Receiver(bot, redis, self.lanes)
        self.waiting = False  # inside a long poll: safe to abandon, nothing is half-handled
        self.menu_set = False  # the command menu is set once per start, by the active bot

    def interrupt(self) -> None:
        """Stop now if only waiting for updates (from a signal handler), else after this batch."""
        self.stop()
        if self.waiting:
            raise PollInterrupted

    def stop(self) -> None:
        """Ask the loop to end after the current long poll."""
        self.stopping.set()

    def run(self) -> None:
        """Poll while this process holds the bot lease; errors back off and retry, never exit."""
        failures = 0
        while self.leadership.wait_for_lease(self.stopping):
            self.drop_webhook()
            self.set_menu()
            while self.leadership.may_poll() and not self.stopping.is_set():
                try:
                    updates = self.fetch()
                except PollInterrupted:
                    break
                except telegram.SEND_ERRORS as exc:
                    if getattr(exc, "status", None) == CONFLICT and not self.leadership.held():
                        self.leadership.lose()  # another bot polls: we were cut off, it took over
                    delay = ERROR_BACKOFF_S[min(failures, len(ERROR_BACKOFF_S) - 1)]
                    failures += 1
                    log.warning("getUpdates failed (%s); retrying in %ss", type(exc).__name__, delay)
                    self.stopping.wait(delay)
                    continue
                failures = 0
                self.take(updates)
                self.receiver.sweep_now_and_then()
            if not self.stopping.is_set():
                log.warning("the bot lease lapsed; standing by")
        self.leadership.release()
        self.lanes.stop(DRAIN_ON_STOP_S)

    def drop_webhook(self) -> None:
        """A webhook left from BOT_MODE=webhook blocks getUpdates (409); remove it, keep pending updates."""
        try:
            telegram.call(
                "deleteWebhook", lambda: self.bot.delete_webhook(drop_pending_updates=False), max_wait=10
            )
        except telegram.SEND_ERRORS as exc:
            log.warning("deleteWebhook failed (%s); polling anyway", type(exc).__name__)

    def set_menu(self) -> None:
        """Set the command menu once per start, in a thread: a slow Telegram never delays polling."""
        if not self.menu_set:
            self.menu_set = True
            threading.Thread(target=command_menu.publish, args=(self.bot,), name="menu", daemon=True).start()

    def fetch(self) -> list[dict[str, Any]]:
        """One long poll for raw updates; the offset confirms every update stored so far."""
        self.waiting = True
        try:
            return telegram.call(
                "getUpdates",
                lambda: apihelper.get_updates(
                    self.bot.token, self.offset, None, self.long_poll_s, None, self.long_poll_s
                ),
                max_wait=0,
            )
        finally:
            self.waiting = False

    def take(self, updates: list[dict[str, Any]]) -> None:
        """Store a batch and confirm it; while Redis is away confirm nothing and back off."""
        if not updates:
            return
        if self.receiver.take(updates):
            self.offset = max(int(raw["update_id"]) for raw in updates) + 1
        else:
            self.stopping.wait(self.receiver.retry_in)

    def process(self, update: telebot.types.Update) -> None:
        """Run the bot's handlers for one update."""
        self.bot.process_new_updates([update])
