"""Chat lanes: each chat's inbox is handled in order, different chats in parallel.

A chat's replies are paced (about one a second), so one user's burst must not hold up the answer
to everyone else. The inboxes live in Redis (app.inbox); the lanes only decide who works on which
chat. While Redis is away a lane waits and retries the same update, which stays stored.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable

import telebot
from redis import Redis

from app import inbox
from core.connection import REDIS_DOWN, master_only
from core.outage import Outage

log = logging.getLogger(__name__)
LANE_THREADS = 8  # chats handled at once; each sleeps only on its own chat's pacing


class ChatLanes:
    """Drain chats' inboxes: in order within a chat, in parallel across chats, each chat once."""

    def __init__(
        self,
        redis: Redis,
        process: Callable[[telebot.types.Update], None],
        threads: int = LANE_THREADS,
        may_drain: Callable[[], bool] = lambda: True,
    ) -> None:
        self.redis = redis
        self.process = process
        # Asked before each update: a bot that lost its lease (frozen, then thawed after a standby
        # took over) must not answer the updates its successor is answering.
        self.may_drain = may_drain
        # Daemon threads: a bot told to stop exits without waiting for a slow handler; the update
        # it was handling stays in its inbox and the next bot handles it.
        self.tasks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self.threads = [
            threading.Thread(target=self._work, name=f"chat-{n}", daemon=True) for n in range(threads)
        ]
        for thread in self.threads:
            thread.start()
        self.cond = threading.Condition()
        self.running: set[int] = set()  # chats a lane is draining
        self.again: set[int] = set()  # chats woken while being drained: look once more
        self.stopping = threading.Event()
        self.outage = Outage("the bot's chat lanes")

    def wake(self, chat_id: int) -> None:
        """Make sure a lane drains this chat's inbox (a no-op if one is at it already)."""
        with self.cond:
            if chat_id in self.running:
                self.again.add(chat_id)
                return
            self.running.add(chat_id)
        self.tasks.put(lambda: self._drain(chat_id))

    def sweep(self) -> None:
        """Wake every chat with stored updates (at start, and after an outage or a crash)."""
        for chat_id in inbox.pending_chats(self.redis):
            self.wake(chat_id)

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run a one-off task (a notice to a chat) on a lane thread."""
        self.tasks.put(fn)

    def _drain(self, chat_id: int) -> None:
        while not self.stopping.is_set() and self.may_drain():
            raw = self._redis(lambda: inbox.head(self.redis, chat_id))
            if raw is None and not self._finished(chat_id):
                continue
            if raw is None:
                return
            self._handle(raw)
            self._redis(lambda handled=raw: inbox.pop(self.redis, chat_id, handled))
        with self.cond:
            self.running.discard(chat_id)
            self.cond.notify_all()

    def _finished(self, chat_id: int) -> bool:
        """True if the chat is done (its lane ends); False if it was woken meanwhile."""
        with self.cond:
            if chat_id in self.again:
                self.again.discard(chat_id)
                return False
            self.running.discard(chat_id)
            self.cond.notify_all()
            return True

    def _handle(self, raw: str) -> None:
        """Run the handlers for one update, retrying it while Redis is away."""
        try:
            update = telebot.types.Update.de_json(json.loads(raw))
        except Exception:  # a stored update telebot cannot read: drop it, or it blocks its chat
            log.exception("a stored update could not be read; skipped")
            return
        while not self.stopping.is_set():
            try:
                with master_only(self.redis):  # its job is queued where it leaves the inbox
                    self.process(update)
            except REDIS_DOWN as exc:
                self.stopping.wait(self.outage.failed(exc))
                continue
            except Exception:
                log.exception("update %s crashed its handler; skipped", update.update_id)
            self.outage.recovered()
            return

    def _redis(self, fn: Callable[[], object]) -> object:
        """Run one inbox command on the master, waiting out an outage (None if the lanes are stopping).
        Not on a former master a pooled connection still reaches: its inbox is stale, and an update
        taken out of it stays in the master's, to be handled twice."""
        while not self.stopping.is_set():
            try:
                with master_only(self.redis):
                    result = fn()
            except REDIS_DOWN as exc:
                self.stopping.wait(self.outage.failed(exc))
                continue
            self.outage.recovered()
            return result
        return None

    def _work(self) -> None:
        while (task := self.tasks.get()) is not None:
            try:
                task()
            except Exception:
                log.exception("a chat lane task failed")

    def busy(self) -> bool:
        """True while any lane is draining a chat."""
        with self.cond:
            return bool(self.running)

    def stop(self, timeout: float) -> None:
        """Stop after the updates being handled now, waiting at most `timeout` seconds."""
        self.stopping.set()
        with self.cond:
            self.cond.wait_for(lambda: not self.running, timeout)
        for _ in self.threads:
            self.tasks.put(None)
