"""A video arrives: refuse what we must, answer repeats from the cache, otherwise queue it."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import PurePosixPath

import telebot
from rq import Queue, Worker
from telebot.types import Message, ReplyParameters

from app.replies import Replier
from app.trim import parse_trim
from core import cache, limits, markers, memetext, prefs, stats, telegram
from core.admission import Admission, submit, waiting_count
from core.errors import BadTrim, UserFacingError
from core.models import ConversionRequest, MediaKind, Outcome, job_id_for
from core.settings import Settings
from core.texts import text

log = logging.getLogger(__name__)

# File name endings of the containers the worker reads (see jobs.recipe.FORMAT_WHITELIST).
VIDEO_EXTENSIONS = frozenset(
    {".mts", ".m2ts", ".ts", ".vob", ".mpg", ".mpeg", ".flv", ".wmv", ".asf", ".3gp", ".3g2", ".ogv"}
    | {".mkv", ".webm", ".mp4", ".mov", ".m4v", ".avi"}
)
UNTYPED_MIME_TYPES = frozenset({"", "application/octet-stream"})


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
    if doc is not None and is_video_document(doc.mime_type, doc.file_name):
        return IncomingVideo(MediaKind.DOCUMENT, doc.file_id, doc.file_unique_id, doc.file_size or 0)
    return None


def is_video_document(mime_type: str | None, file_name: str | None) -> bool:
    """Any video/* file; a typeless one (octet-stream or none) only if its name ends like a video.

    Telegram's clients label what they do not know (.mts, .vob, .flv...) application/octet-stream.
    The name only picks what to try: the worker's probe decides what the bytes really are.
    """
    mime = (mime_type or "").lower().strip()
    if mime.startswith("video/"):
        return True
    suffix = PurePosixPath((file_name or "").lower()).suffix
    return mime in UNTYPED_MIME_TYPES and suffix in VIDEO_EXTENSIONS


def asked_for(
    caption: str | None, meme: str | None
) -> tuple[tuple[float, float] | None, memetext.MemeText | None]:
    """The trim window or the meme text a message asks for: `meme` (from /text), else a caption
    starting with `>` is text, else the caption may be a time range. Raises a UserFacingError."""
    raw = meme if meme is not None else memetext.from_caption(caption)
    if raw is not None:
        return None, memetext.parse(raw)
    return parse_trim(caption), None


def profile_of(message: Message) -> stats.Profile:
    """Who sent the message (names are untrusted text, stored as given and escaped when shown)."""
    user = message.from_user
    if user is None:
        return stats.Profile(user_id=message.chat.id)
    return stats.Profile(
        user.id, user.username or "", user.first_name or "", user.last_name or "", user.language_code or ""
    )


def answering(reply_to: int) -> dict[str, ReplyParameters]:
    """Reply keywords that answer the video's message instead of the command (none if 0)."""
    return (
        {"reply_parameters": ReplyParameters(reply_to, allow_sending_without_reply=True)} if reply_to else {}
    )


class Intake:
    """Turns one video message into a queued job, a cached GIF, or a clear refusal."""

    def __init__(self, settings: Settings, bot: telebot.TeleBot, queue: Queue, replier: Replier) -> None:
        self.settings = settings
        self.bot = bot
        self.queue = queue
        self.replier = replier

    @property
    def redis(self):
        return self.queue.connection

    def handle(
        self,
        message: Message,
        video: IncomingVideo,
        lang: str,
        reply_to: int = 0,
        trim: str | None = None,
        meme: str | None = None,
    ) -> None:
        """Check size, ban, trim or text, cache and quota, then queue (once per message).

        `message` is the one that asked (its sender pays the quota, its id makes the job id);
        `reply_to` is the message holding the video when that differs (a /gif sent in reply);
        `trim` is the time range asked for, when not the caption (a /gif's argument);
        `meme` is the text of a /text command (`TOP | BOTTOM`), drawn on the GIF.
        """
        profile = profile_of(message)
        job_id = job_id_for(message.chat.id, message.message_id)
        if markers.was_queued(self.redis, job_id):
            log.info("job=%s already queued; update re-delivered", job_id)
            return
        if video.file_size > self.settings.max_input_bytes:
            body = text("error_too_big", lang, max_mb=self.settings.max_input_mb)
            self.refuse(message, profile, "too_big", body, reply_to)  # about the video: answer it
            return
        if limits.is_banned(self.redis, profile.user_id):
            self.refuse(message, profile, "banned", text("banned", lang))
            return
        try:
            window, words = asked_for(message.caption if trim is None else trim, meme)
        except BadTrim:
            self.refuse(message, profile, "bad_trim", text("error_trim", lang))
            return
        except UserFacingError as exc:  # the text: none, or too long
            self.refuse(message, profile, exc.text_key, text(exc.text_key, lang, **exc.params))
            return
        choice = prefs.load(self.redis, profile.user_id, self.settings)
        variant = choice.cache_key() + (f"t{window[0]:g}-{window[1]:g}" if window else "")
        variant += f"m{words.digest(lang)}" if words else ""  # a GIF with other words is another GIF
        if self.from_cache(message, video, profile, variant, reply_to):
            return
        self.queue_video(message, video, lang, profile, choice, window, variant, reply_to, words)

    def queue_video(
        self,
        message: Message,
        video: IncomingVideo,
        lang: str,
        profile: stats.Profile,
        choice: prefs.UserPrefs,
        window: tuple[float, float] | None,
        variant: str,
        reply_to: int = 0,
        words: memetext.MemeText | None = None,
    ) -> None:
        """Take the hourly quota, answer with a status message, store the text, submit the job fairly."""
        job_id = job_id_for(message.chat.id, message.message_id)
        user_limits = limits.limits_for(self.redis, profile.user_id, self.settings)
        if not limits.take_hourly(self.redis, profile.user_id, user_limits.per_hour):
            self.refuse(message, profile, "quota", text("quota", lang, per_hour=user_limits.per_hour))
            return
        status_id = self.status_message(message, job_id, lang, profile.user_id, reply_to)
        start, end = window or (0.0, None)
        request = ConversionRequest(
            chat_id=message.chat.id,
            user_id=profile.user_id,
            message_id=message.message_id,
            status_message_id=status_id,
            file_id=video.file_id,
            file_unique_id=video.file_unique_id,
            file_size=video.file_size,
            kind=video.kind,
            lang=lang,
            width=choice.width,
            fps=choice.fps,
            max_seconds=choice.max_seconds,
            start=start,
            end=end,
            speed=choice.speed,
            reverse=choice.reverse,
            output=choice.output,
            variant=variant,
            reply_to=reply_to,
            has_text=words is not None,
        )
        if words is not None:
            memetext.store(self.redis, job_id, words)
        admission = submit(self.queue, request, self.settings, user_limits)
        if admission in (Admission.DUPLICATE, Admission.FULL):
            limits.give_back_hourly(self.redis, profile.user_id)
        if admission is Admission.FULL:
            memetext.drop(self.redis, job_id)
            if status_id:
                self.replier.edit(
                    message.chat.id, status_id, text("too_many", lang, max_pending=user_limits.max_pending)
                )
            stats.record_refused(self.redis, profile, "too_many", ttl_s=self.settings.user_data_ttl_s)
        elif admission in (Admission.QUEUED, Admission.WAITING):
            ttl_s, gif = self.settings.user_data_ttl_s, (video.file_unique_id, variant)
            stats.record_video(self.redis, profile, job_id, video.file_size, ttl_s=ttl_s, gif=gif)
        log.info("job=%s user=%s kind=%s %s", job_id, profile.user_id, video.kind.value, admission.value)

    def from_cache(
        self, message: Message, video: IncomingVideo, profile: stats.Profile, variant: str, reply_to: int = 0
    ) -> bool:
        """Answer a repeat at once by re-sending the GIF Telegram already has; False on a miss."""
        hit = cache.get(self.redis, video.file_unique_id, variant)
        if hit is None:
            return False
        chat, target = message.chat.id, reply_to or message.message_id
        send = lambda: telegram.send_gif(self.bot, chat, hit.file_id, hit.output, target)  # noqa: E731
        if self.replier.paced(chat, "sendAnimation", send) is None:
            return False  # the cached file_id failed: convert again
        job_id = job_id_for(chat, message.message_id)
        ttl_s = self.settings.user_data_ttl_s
        gif = (video.file_unique_id, variant)
        stats.record_video(self.redis, profile, job_id, video.file_size, ttl_s=ttl_s, gif=gif)
        stats.record_outcome(
            self.redis, profile.user_id, job_id, Outcome.DELIVERED, size_out=hit.size_bytes, ttl_s=ttl_s
        )
        markers.mark_queued(self.redis, job_id)
        log.info("job=%s user=%s answered from cache", job_id, profile.user_id)
        return True

    def status_message(
        self, message: Message, job_id: str, lang: str, user_id: int, reply_to: int = 0
    ) -> int:
        """Reply with the status message (or reuse the one an earlier delivery sent); 0 if none."""
        earlier = markers.status_message_id(self.redis, job_id)
        if earlier:
            return earlier
        status = self.replier.reply(message, self.queued_text(lang, user_id), **answering(reply_to))
        if status is None:
            return 0
        markers.remember_status(self.redis, job_id, status.message_id)
        return status.message_id

    def queued_text(self, lang: str, user_id: int) -> str:
        """'In line: position N, about M s' from the queue length, worker count and recent speed."""
        ahead = self.queue.count + waiting_count(self.redis, user_id)
        workers = max(1, Worker.count(queue=self.queue))
        wait = math.ceil((ahead / workers + 1) * stats.typical_seconds(self.redis))
        return text("status_queued", lang, position=ahead + 1, wait=wait)

    def refuse(
        self, message: Message, profile: stats.Profile, reason: str, body: str, reply_to: int = 0
    ) -> None:
        """Reply with why a video is refused and count it."""
        self.replier.reply(message, body, **answering(reply_to))
        stats.record_refused(self.redis, profile, reason, ttl_s=self.settings.user_data_ttl_s)
