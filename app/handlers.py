"""What the bot does with each incoming message: answer at once, queue videos, refuse the rest."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis.exceptions
import telebot
from rq import Queue
from telebot.types import Message

from app import stats, telegram
from app.enqueue import enqueue_conversion
from app.errors import ChatUnreachable, TransientError
from app.models import ConversionRequest, MediaKind, Outcome, job_id_for
from app.settings import Settings
from app.texts import language_for, text

log = logging.getLogger(__name__)
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@dataclass(frozen=True)
class IncomingVideo:
    """The video part of a message, whichever field Telegram put it in."""

    kind: MediaKind
    file_id: str
    file_unique_id: str
    file_size: int


def find_video(message: Message) -> IncomingVideo | None:
    """Return the message's video, animation, round video or video document; None otherwise."""
    candidates = (
        (MediaKind.ANIMATION, message.animation),  # before document: Telegram sets both for GIFs
        (MediaKind.VIDEO, message.video),
        (MediaKind.VIDEO_NOTE, message.video_note),
    )
    for kind, media in candidates:
        if media is not None:
            return IncomingVideo(kind, media.file_id, media.file_unique_id, media.file_size or 0)
    doc = message.document
    if doc is not None and (doc.mime_type or "").lower().startswith("video/"):
        return IncomingVideo(MediaKind.DOCUMENT, doc.file_id, doc.file_unique_id, doc.file_size or 0)
    return None


class Handlers:
    """The bot's message handlers, holding what they need instead of globals."""

    def __init__(self, settings: Settings, bot: telebot.TeleBot, queue: Queue) -> None:
        self.settings = settings
        self.bot = bot
        self.queue = queue

    def register(self) -> None:
        """Attach every handler to the bot; order matters (first match wins)."""
        self.bot.register_message_handler(self.on_help, commands=["start", "help"])
        self.bot.register_message_handler(self.on_any, content_types=None, func=lambda _m: True)

    def on_help(self, message: Message) -> None:
        """Explain what the bot does."""
        s = self.settings
        lang = language_for(message.from_user.language_code if message.from_user else None)
        self.reply(
            message,
            text(
                "help",
                lang,
                max_mb=s.max_input_mb,
                max_seconds=f"{s.max_seconds:g}",
                width=s.gif_width,
                fps=s.gif_fps,
            ),
        )

    def on_any(self, message: Message) -> None:
        """Queue a video; explain politely when the message holds none."""
        lang = language_for(message.from_user.language_code if message.from_user else None)
        video = find_video(message)
        if video is None:
            self.reply(message, text("not_video", lang))
            return
        if video.file_size > self.settings.max_input_bytes:
            self.reply(message, text("error_too_big", lang, max_mb=self.settings.max_input_mb))
            self.count_refused(message)
            return
        try:
            self.queue_video(message, video, lang)
        except REDIS_DOWN:
            log.warning("redis unreachable; told chat %s to retry later", message.chat.id)
            self.reply(message, text("busy", lang))

    def queue_video(self, message: Message, video: IncomingVideo, lang: str) -> None:
        """Answer with a status message, then queue the job (once per message)."""
        s = self.settings
        user_id = message.from_user.id if message.from_user else message.chat.id
        job_id = job_id_for(message.chat.id, message.message_id)
        if stats.was_queued(self.queue.connection, job_id):
            log.info("job %s already queued; update re-delivered", job_id)
            return
        status = self.reply(message, text("status_queued", lang))
        request = ConversionRequest(
            chat_id=message.chat.id,
            user_id=user_id,
            message_id=message.message_id,
            status_message_id=status.message_id if status else 0,
            file_id=video.file_id,
            file_unique_id=video.file_unique_id,
            file_size=video.file_size,
            kind=video.kind.value,
            lang=lang,
            width=s.gif_width,
            fps=s.gif_fps,
            max_seconds=s.max_seconds,
        )
        job = enqueue_conversion(self.queue, request, s)
        log.info("queued job=%s user=%s kind=%s", request.job_id, user_id, video.kind.value)
        if job is None:
            log.info("job %s was queued meanwhile", request.job_id)

    def count_refused(self, message: Message) -> None:
        """Count a refused video in the user's stats; Redis trouble must not cost the reply."""
        user_id = message.from_user.id if message.from_user else message.chat.id
        try:
            stats.record_outcome(self.queue.connection, user_id, Outcome.REFUSED)
        except REDIS_DOWN:
            log.warning("redis unreachable; refused video of user %s not counted", user_id)

    def reply(self, message: Message, body: str) -> Message | None:
        """Reply to a message; None if Telegram would not take it (logged, never raised)."""
        try:
            return telegram.call("sendMessage", lambda: self.bot.reply_to(message, body), max_wait=10)
        except (TransientError, ChatUnreachable, telebot.apihelper.ApiException) as exc:
            log.warning("reply to chat %s failed: %s", message.chat.id, type(exc).__name__)
            return None
