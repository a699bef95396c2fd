"""The admins' alert messages, sent from a thread: a slow Telegram never stalls the scheduler's loop
(its leader lock lapses if a pass takes longer than jobs.scheduler.LEADER_TTL_S)."""

from __future__ import annotations

import logging
import queue
import threading

from redis import Redis

from core import telegram
from core.chat import paced_send
from core.settings import Settings

log = logging.getLogger(__name__)
MAX_WAITING = 100  # messages not yet sent; more are logged only
SEND_TIMEOUT_S = 10  # one sendMessage's read timeout
MAX_WAIT_S = 10.0  # a 429 is waited out this long at most


class Outbox:
    """Send each text to every chat in ADMIN_CHAT_IDS, paced per chat; failures are logged."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.chats = settings.admin_chat_ids
        self.bot = telegram.build_client(settings) if settings.telegram_bot_token else None
        self.waiting: queue.Queue[str] = queue.Queue(MAX_WAITING)
        self.thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        if self.bot is None and self.chats:
            log.warning("ADMIN_CHAT_IDS is set but TELEGRAM_BOT_TOKEN is not: alerts are only logged")

    def send(self, body: str) -> None:
        """Log the alert and hand it to the sending thread."""
        log.warning("alert: %s", body)
        if self.bot is None or not self.chats:
            return
        if not self.thread.is_alive():
            self.thread.start()
        try:
            self.waiting.put_nowait(body)
        except queue.Full:
            log.warning("alert not sent: %s messages are waiting already", MAX_WAITING)

    def _run(self) -> None:
        while True:
            body = self.waiting.get()
            for chat in self.chats:
                try:
                    self._send_one(chat, body)
                except Exception:  # the thread must outlive any one message
                    log.exception("alert to chat %s failed", chat)

    def _send_one(self, chat: int, body: str) -> None:
        assert self.bot is not None
        bot = self.bot
        sent = paced_send(
            self.redis,
            chat,
            "sendMessage",
            lambda: bot.send_message(chat, body, timeout=SEND_TIMEOUT_S),
            max_wait=MAX_WAIT_S,
        )
        if sent is None:
            log.warning("alert to chat %s not sent", chat)
