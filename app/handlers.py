"""What the bot does with each incoming message: answer at once, queue videos, refuse the rest."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis.exceptions
import telebot
from rq import Queue
from telebot.types import CallbackQuery, Message

from app import abuse, markers, stats, telegram
from app.enqueue import Admission, submit
from app.errors import ChatUnreachable, TransientError
from app.models import ConversionRequest, MediaKind, job_id_for
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


def profile_of(message: Message) -> stats.Profile:
    """Who sent the message (names are untrusted text, stored as given and escaped when shown)."""
    user = message.from_user
    if user is None:
        return stats.Profile(user_id=message.chat.id)
    return stats.Profile(
        user.id, user.username or "", user.first_name or "", user.last_name or "", user.language_code or ""
    )


def is_command(message: Message) -> bool:
    """True for a text message that starts with a /command."""
    return message.content_type == "text" and (message.text or "").startswith("/")


def lang_of(message: Message) -> str:
    """The catalogue language for the message's sender."""
    return language_for(message.from_user.language_code if message.from_user else None)


class Handlers:
    """The bot's message handlers, holding what they need instead of globals."""

    def __init__(self, settings: Settings, bot: telebot.TeleBot, queue: Queue) -> None:
        self.settings = settings
        self.bot = bot
        self.queue = queue

    def register(self) -> None:
        """Attach every handler to the bot; order matters (first match wins)."""
        self.bot.register_message_handler(self.on_help, commands=["start", "help"])
        self.bot.register_message_handler(self.on_unknown_command, func=is_command)
        self.bot.register_message_handler(self.on_any, content_types=None, func=lambda _m: True)
        self.bot.register_callback_query_handler(self.on_stale_button, func=lambda _c: True)

    def on_unknown_command(self, message: Message) -> None:
        """Any other /command (odd arguments included) gets a pointer to /help."""
        self.reply(message, text("unknown_command", lang_of(message)))

    def on_stale_button(self, call: CallbackQuery) -> None:
        """Buttons we do not know (old or forged callback data) get a polite answer, nothing else."""
        lang = language_for(call.from_user.language_code if call.from_user else None)
        try:
            telegram.call(
                "answerCallbackQuery",
                lambda: self.bot.answer_callback_query(call.id, text("button_expired", lang)),
                max_wait=5,
            )
        except (TransientError, ChatUnreachable, telebot.apihelper.ApiException) as exc:
            log.info("callback answer failed: %s", type(exc).__name__)

    def on_help(self, message: Message) -> None:
        """Explain what the bot does."""
        s = self.settings
        lang = lang_of(message)
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
        lang = lang_of(message)
        video = find_video(message)
        if video is None:
            self.reply(message, text("not_video", lang))
            return
        try:
            if video.file_size > self.settings.max_input_bytes:
                body = text("error_too_big", lang, max_mb=self.settings.max_input_mb)
                self.refuse(message, profile_of(message), "too_big", body)
                return
            self.queue_video(message, video, lang)
        except REDIS_DOWN:
            log.warning("redis unreachable; told chat %s to retry later", message.chat.id)
            self.reply(message, text("busy", lang))

    def queue_video(self, message: Message, video: IncomingVideo, lang: str) -> None:
        """Check bans and quotas, answer with a status message, then queue (once per message)."""
        redis, profile = self.queue.connection, profile_of(message)
        job_id = job_id_for(message.chat.id, message.message_id)
        if markers.was_queued(redis, job_id):
            log.info("job=%s already queued; update re-delivered", job_id)
            return
        if abuse.is_banned(redis, profile.user_id):
            self.refuse(message, profile, "banned", text("banned", lang))
            return
        limits = abuse.limits_for(redis, profile.user_id, self.settings)
        if not abuse.take_hourly(redis, profile.user_id, limits.per_hour):
            self.refuse(message, profile, "quota", text("quota", lang, per_hour=limits.per_hour))
            return
        status_id = self.status_message(message, job_id, lang)
        request = self.request_for(message, video, lang, profile.user_id, status_id)
        admission = submit(self.queue, request, self.settings, limits)
        if admission in (Admission.DUPLICATE, Admission.FULL):
            abuse.give_back_hourly(redis, profile.user_id)
        if admission is Admission.FULL and status_id:
            self.edit(message.chat.id, status_id, text("too_many", lang, max_pending=limits.max_pending))
            stats.record_refused(redis, profile, "too_many")
        elif admission in (Admission.QUEUED, Admission.WAITING):
            stats.record_video(redis, profile, job_id, video.file_size)
        log.info("job=%s user=%s kind=%s %s", job_id, profile.user_id, video.kind.value, admission.value)

    def request_for(
        self, message: Message, video: IncomingVideo, lang: str, user_id: int, status_id: int
    ) -> ConversionRequest:
        """The job payload for this video with the bot's default recipe."""
        s = self.settings
        return ConversionRequest(
            chat_id=message.chat.id,
            user_id=user_id,
            message_id=message.message_id,
            status_message_id=status_id,
            file_id=video.file_id,
            file_unique_id=video.file_unique_id,
            file_size=video.file_size,
            kind=video.kind.value,
            lang=lang,
            width=s.gif_width,
            fps=s.gif_fps,
            max_seconds=s.max_seconds,
        )

    def refuse(self, message: Message, profile: stats.Profile, reason: str, body: str) -> None:
        """Reply with why a video is refused and count it; Redis trouble must not cost the reply."""
        self.reply(message, body)
        try:
            stats.record_refused(self.queue.connection, profile, reason)
        except REDIS_DOWN:
            log.warning("redis unreachable; refused video of user %s not counted", profile.user_id)

    def status_message(self, message: Message, job_id: str, lang: str) -> int:
        """Reply with the status message (or reuse the one an earlier delivery sent); 0 if none."""
        redis = self.queue.connection
        earlier = markers.status_message_id(redis, job_id)
        if earlier:
            return earlier
        status = self.reply(message, text("status_queued", lang))
        if status is None:
            return 0
        markers.remember_status(redis, job_id, status.message_id)
        return status.message_id

    def edit(self, chat_id: int, message_id: int, body: str) -> None:
        """Edit a message the bot sent (best effort)."""
        try:
            telegram.call(
                "editMessageText", lambda: self.bot.edit_message_text(body, chat_id, message_id), max_wait=10
            )
        except (TransientError, ChatUnreachable, telebot.apihelper.ApiException) as exc:
            log.warning("edit in chat %s failed: %s", chat_id, type(exc).__name__)

    def reply(self, message: Message, body: str) -> Message | None:
        """Reply to a message; None if Telegram would not take it (logged, never raised)."""
        try:
            return telegram.call("sendMessage", lambda: self.bot.reply_to(message, body), max_wait=10)
        except (TransientError, ChatUnreachable, telebot.apihelper.ApiException) as exc:
            log.warning("reply to chat %s failed: %s", message.chat.id, type(exc).__name__)
            return None
