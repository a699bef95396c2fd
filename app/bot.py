"""Build the bot and run its long-polling loop, confirming updates only after they were handled."""

from __future__ import annotations

import logging
import threading

import telebot
from redis import Redis

from app.handlers import Handlers
from app.lanes import ChatLanes
from core import telegram
from core.admission import gif_queue
from core.settings import Settings

log = logging.getLogger(__name__)

LONG_POLL_S = 10  # keeps SIGTERM-to-exit under 15 s
ERROR_BACKOFF_S = (1, 2, 5, 10)
BUSY_POLL_S = 0.5  # while lanes work, poll at least this often for other chats' updates
DRAIN_ON_STOP_S = 10.0  # unfinished updates after this stay unconfirmed: Telegram re-delivers them


def build_bot(settings: Settings, redis: Redis) -> telebot.TeleBot:
    """A TeleBot with every handler registered; no network call is made here."""
    bot = telegram.build_client(settings, threaded=False)
    Handlers(settings, bot, gif_queue(redis, settings)).register()
    return bot


class PollInterrupted(Exception):
    """Raised by the signal handler to abandon a long poll at once."""


class Poller:
    """Fetch updates and handle them in order; the next getUpdates offset confirms them."""

    def __init__(self, bot: telebot.TeleBot, long_poll_s: int = LONG_POLL_S) -> None:
        self.bot = bot
        self.long_poll_s = long_poll_s
        self.stopping = threading.Event()
        self.offset: int | None = None
        self.next_new: int | None = None  # update ids below this were handed to a lane already
        self.lanes = ChatLanes(self.process)
        self.waiting = False  # inside a long poll: safe to abandon, nothing is half-handled

    def interrupt(self) -> None:
        """Stop now if only waiting for updates (from a signal handler), else after this batch."""
        self.stop()
        if self.waiting:
            raise PollInterrupted

    def stop(self) -> None:
        """Ask the loop to end after the current long poll."""
        self.stopping.set()

    def run(self) -> None:
        """Poll until stop(); network or Telegram errors back off and retry, never exit."""
        failures = 0
        self.drop_webhook()
        while not self.stopping.is_set():
            try:
                updates = self.fetch()
            except PollInterrupted:
                break
            except telegram.SEND_ERRORS as exc:
                delay = ERROR_BACKOFF_S[min(failures, len(ERROR_BACKOFF_S) - 1)]
                failures += 1
                log.warning("getUpdates failed (%s); retrying in %ss", type(exc).__name__, delay)
                self.stopping.wait(delay)
                continue
            failures = 0
            self.handle(updates)
            self.lanes.wait(BUSY_POLL_S)  # re-delivered updates would come back at once: pace the polls
        self.lanes.wait(DRAIN_ON_STOP_S, until_idle=True)

    def drop_webhook(self) -> None:
        """A webhook left from BOT_MODE=webhook blocks getUpdates (409); remove it, keep pending updates."""
        try:
            telegram.call(
                "deleteWebhook", lambda: self.bot.delete_webhook(drop_pending_updates=False), max_wait=10
            )
        except telegram.SEND_ERRORS as exc:
            log.warning("deleteWebhook failed (%s); polling anyway", type(exc).__name__)

    def fetch(self) -> list[telebot.types.Update]:
        """One long poll; the offset confirms every update handled so far."""
        self.waiting = True
        try:
            return telegram.call(
                "getUpdates",
                lambda: self.bot.get_updates(
                    offset=self.offset, timeout=self.long_poll_s, long_polling_timeout=self.long_poll_s
                ),
                max_wait=0,
            )
        finally:
            self.waiting = False

    def handle(self, updates: list[telebot.types.Update]) -> None:
        """Hand new updates to their chat's lane; confirm only what every lane has finished."""
        for update in updates:
            if self.next_new is not None and update.update_id < self.next_new:
                continue  # re-delivered because an earlier one is still in its lane
            self.lanes.submit(update)
            self.next_new = update.update_id + 1
        oldest = self.lanes.oldest_unfinished()
        self.offset = oldest if oldest is not None else self.next_new

    def process(self, update: telebot.types.Update) -> None:
        """Run the bot's handlers for one update."""
        self.bot.process_new_updates([update])
