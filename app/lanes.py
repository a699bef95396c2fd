"""Chat lanes: updates run in order within a chat and in parallel across chats."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import telebot

log = logging.getLogger(__name__)
LANE_THREADS = 8  # chats handled at once; each sleeps only on its own chat's pacing


def chat_key(update: telebot.types.Update) -> int:
    """The chat an update belongs to (a button press: its user); 0 for anything else."""
    message = update.message or update.edited_message or update.channel_post
    if message is not None:
        return message.chat.id
    query = update.callback_query
    return query.from_user.id if query is not None and query.from_user else 0


class ChatLanes:
    """Handle updates in order within a chat and in parallel across chats.

    A chat's replies are paced (about one a second), so one user's burst of videos must not hold
    up the answer to everyone else.
    """

    def __init__(self, process: Callable[[telebot.types.Update], None], threads: int = LANE_THREADS) -> None:
        self.process = process
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="chat")
        self.cond = threading.Condition()
        self.lanes: dict[int, deque[telebot.types.Update]] = {}
        self.unfinished: set[int] = set()

    def submit(self, update: telebot.types.Update) -> None:
        """Queue an update behind its chat's earlier ones."""
        key = chat_key(update)
        with self.cond:
            self.unfinished.add(update.update_id)
            if key in self.lanes:
                self.lanes[key].append(update)
                return
            self.lanes[key] = deque()
        self.pool.submit(self._drain, key, update)

    def _drain(self, key: int, update: telebot.types.Update | None) -> None:
        while update is not None:
            try:
                self.process(update)
            except Exception:
                log.exception("update %s crashed its handler; skipped", update.update_id)
            with self.cond:
                self.unfinished.discard(update.update_id)
                lane = self.lanes[key]
                update = lane.popleft() if lane else None
                if update is None:
                    del self.lanes[key]
                self.cond.notify_all()

    def oldest_unfinished(self) -> int | None:
        """The lowest update_id not yet handled (None when all are)."""
        with self.cond:
            return min(self.unfinished, default=None)

    def wait(self, timeout: float, *, until_idle: bool = False) -> None:
        """Wait until an update finishes (or all, if until_idle), at most `timeout` seconds."""
        with self.cond:
            if until_idle:
                self.cond.wait_for(lambda: not self.unfinished, timeout)
            elif self.unfinished:
                self.cond.wait(timeout)
