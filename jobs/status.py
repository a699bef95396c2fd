"""The one status message per video, edited in place as the job moves along (best effort, paced)."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import Protocol

import telebot
from redis import Redis

from core import markers, pace, telegram
from core.chat import paced_send
from core.connection import REDIS_DOWN
from core.texts import text

log = logging.getLogger(__name__)
STATUS_EDIT_MAX_WAIT_S = 5.0  # progress is nice to have; never stall a job on it
LOOKUP_EVERY_S = 0.5  # how often a job without its status message's id asks Redis for it
FINAL_WAIT_S = 2.0  # how long final words wait for that id (the bot's reply is on its way)
FINAL_POLL_S = 0.05


class VideoMessage(Protocol):
    """Where a video's status is shown: a ConversionRequest, or what is known of a lost job."""

    @property
    def chat_id(self) -> int: ...
    @property
    def message_id(self) -> int: ...
    @property
    def status_message_id(self) -> int: ...
    @property
    def lang(self) -> str: ...
    @property
    def job_id(self) -> str: ...


class StatusMessage:
    """Edits one video's status message: each step in order, at most one edit a second per chat."""

    def __init__(self, bot: telebot.TeleBot, redis: Redis, request: VideoMessage) -> None:
        self.bot = bot
        self.redis = redis
        self.request = request
        self.shown = ""
        self._id = request.status_message_id
        self._known = bool(self._id)  # the id, or that there is none, came (markers.status_message_id)
        self._looked_at = -math.inf  # when Redis was last asked for the id

    @property
    def message_id(self) -> int:
        """The status message's id; 0 while there is none. The bot queues a video before its reply
        goes out and stores the reply's id after (core.markers), so a job may start without it: it
        asks Redis then, at most once a LOOKUP_EVERY_S (best effort: an outage means none yet)."""
        return self._message_id(every_s=LOOKUP_EVERY_S)

    def final_message_id(self) -> int:
        """message_id for final words (the GIF is out, or the job failed): a job that ended before
        the bot stored its reply's id (or that it sent none) waits up to FINAL_WAIT_S for it, so the
        reply still becomes the error, or goes, instead of staying behind. None came by then: 0."""
        waited_until = time.monotonic() + FINAL_WAIT_S
        self._message_id(every_s=0)
        while not self._known and time.monotonic() < waited_until:
            time.sleep(FINAL_POLL_S)
            self._message_id(every_s=0)
        return self._id

    def _message_id(self, every_s: float) -> int:
        if not self._known and time.monotonic() - self._looked_at >= every_s:
            self._looked_at = time.monotonic()
            with contextlib.suppress(*REDIS_DOWN):
                found = markers.status_message_id(self.redis, self.request.job_id)
                self._id, self._known = found or 0, found is not None
        return self._id

    def show(
        self, key: str, *, wait: bool = False, kind: pace.Kind = pace.Kind.STATUS, **params: object
    ) -> bool:
        """Show text `key` if the chat's slot and the global budget are free (steps of a quick job are
        skipped, so they never delay the GIF); wait=True for final words that must be shown. False
        if nothing was shown."""
        request = self.request
        body = text(key, request.lang, **params)
        status_id = self.final_message_id() if wait else self.message_id
        if not status_id or body == self.shown:
            return False
        edited = paced_send(
            self.redis,
            request.chat_id,
            "editMessageText",
            lambda: self.bot.edit_message_text(body, request.chat_id, status_id),
            wait=wait,
            max_wait=STATUS_EDIT_MAX_WAIT_S,
            kind=kind,
        )
        if edited is None:
            return False
        self.shown = body
        return True

    def progress(self, fraction: float) -> None:
        """A converting tick: shown only if the chat's slot and the budget are free right now (never
        slows the job; the first thing dropped when the bot is busy)."""
        self.show("status_converting", kind=pace.Kind.PROGRESS, percent=min(99, int(fraction * 100)))

    def remove(self) -> None:
        """Delete the status message once the GIF is there (best effort)."""
        request, status_id = self.request, self.final_message_id()
        if not status_id:
            return
        pace.reserve(self.redis, None, kind=pace.Kind.STATUS)  # no chat slot: it follows the GIF at once
        try:
            telegram.call(
                "deleteMessage",
                lambda: self.bot.delete_message(request.chat_id, status_id),
                max_wait=STATUS_EDIT_MAX_WAIT_S,
            )
        except telegram.SEND_ERRORS as exc:
            log.info("status delete for job=%s skipped: %s", request.job_id, type(exc).__name__)

    def tell(self, key: str, **params: object) -> None:
        """Show a final message: edit the status message, or reply to the video if that fails."""
        if self.show(key, wait=True, **params):
            return
        body = text(key, self.request.lang, **params)
        reply = telebot.types.ReplyParameters(self.request.reply_target, allow_sending_without_reply=True)
        with contextlib.suppress(*REDIS_DOWN):  # a status reply that comes after this one is deleted
            markers.told_by_reply(self.redis, self.request.job_id)
        pace.reserve(self.redis, self.request.chat_id, kind=pace.Kind.STATUS)
        telegram.call(
            "sendMessage", lambda: self.bot.send_message(self.request.chat_id, body, reply_parameters=reply)
        )
