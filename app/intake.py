"""A video (or a tweak button under a GIF) arrives: refuse what we must, answer repeats from the cache,
otherwise queue it."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, replace

import telebot
from redis.client import Pipeline
from rq import Queue
from telebot.types import CallbackQuery, Message, ReplyParameters

from app.replies import Replier
from app.trim import parse_trim
from app.videos import IncomingVideo
from core import cache, limits, markers, memetext, prefs, redo, stats, telegram, tweaks
from core.admission import Admission, outlook, submit
from core.errors import BadTrim, UserFacingError
from core.models import ConversionRequest, Outcome, job_id_for
from core.settings import Settings
from core.texts import text

log = logging.getLogger(__name__)


def asked_for(
    caption: str | None, meme: str | None
) -> tuple[tuple[float, float] | None, memetext.MemeText | None]:
    """The trim window or the meme text a message asks for: `meme` (from /text), else a caption
    starting with `>` is text, else the caption may be a time range. Raises a UserFacingError."""
    raw = meme if meme is not None else memetext.from_caption(caption)
    if raw is not None:
        return None, memetext.parse(raw)
    return parse_trim(caption), None


def profile_of(message: Message | CallbackQuery) -> stats.Profile:
    """Who sent the message or pressed the button (names are untrusted text, stored as given and
    escaped when shown).

    A message sent on behalf of a chat (an anonymous group admin posts as the group, a member may
    post as their channel) counts as that chat's, by its negative id: Telegram shows its from_user
    as one shared bot account (GroupAnonymousBot, Channel_Bot) for every such message in every
    group, so quotas, slots, /cancel and /stats keyed by it would be shared by all of them."""
    sender = getattr(message, "sender_chat", None)  # a button press always comes from a person
    if sender is not None:
        return stats.Profile(user_id=sender.id, username=sender.username or "", first_name=sender.title or "")
    user = message.from_user
    if user is None:
        return stats.Profile(user_id=message.chat.id)
    return stats.Profile(
        user.id, user.username or "", user.first_name or "", user.last_name or "", user.language_code or ""
    )


def actor_id(message: Message) -> int:
    """Whose quota, videos and numbers a message's command is about (see profile_of)."""
    return profile_of(message).user_id


def answering(reply_to: int) -> dict[str, ReplyParameters]:
    """Reply keywords that answer the video's message instead of the command (none if 0)."""
    return (
        {"reply_parameters": ReplyParameters(reply_to, allow_sending_without_reply=True)} if reply_to else {}
    )


def variant_of(
    choice: prefs.UserPrefs, window: tuple[float, float] | None, words: memetext.MemeText | None, lang: str
) -> str:
    """The cache key part of how a GIF is made: settings, trim window, and the words drawn on it."""
    variant = choice.cache_key() + (f"t{window[0]:g}-{window[1]:g}" if window else "")
    return variant + (f"m{words.digest(lang)}" if words else "")  # a GIF with other words is another GIF


@dataclass(frozen=True)
class Ask:
    """One GIF asked for: by a message (its sender pays the quota, its id makes the job id), or by
    tweak button `redo` under the GIF in `message`. `reply_to` is the message holding the video
    when that differs (a /gif sent in reply)."""

    message: Message
    profile: stats.Profile
    video: IncomingVideo
    lang: str
    reply_to: int = 0
    redo: str = ""

    @property
    def chat_id(self) -> int:
        return self.message.chat.id

    @property
    def job_id(self) -> str:
        return job_id_for(self.chat_id, self.message.message_id, self.redo)


class Intake:
    """Turns a video message or a tweak button press into a queued job, a cached GIF, or a refusal."""

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
        """Check size, ban, trim or text, cache and quota, then queue (once per message). `trim` is
        the time range asked for when not the caption (a /gif's argument); `meme` the text of a
        /text command (`TOP | BOTTOM`), drawn on the GIF."""
        ask = Ask(message, profile_of(message), video, lang, reply_to)
        if markers.was_queued(self.redis, ask.job_id):
            log.info("job=%s already queued; update re-delivered", ask.job_id)
            return
        if video.file_size > self.settings.max_input_bytes:
            body = text("error_too_big", lang, max_mb=self.settings.max_input_mb)
            self.refuse(ask, "too_big", body, reply_to)  # about the video: answer it
            return
        if self.refused_ban(ask):
            return
        try:
            window, words = asked_for(message.caption if trim is None else trim, meme)
        except BadTrim:
            self.refuse(ask, "bad_trim", text("error_trim", lang))
            return
        except UserFacingError as exc:  # the text: none, or too long
            self.refuse(ask, exc.text_key, text(exc.text_key, lang, **exc.params))
            return
        self.take(ask, prefs.load(self.redis, ask.profile.user_id, self.settings), window, words)

    def redo(self, ask: Ask, choice: prefs.UserPrefs, window: tuple[float, float] | None) -> None:
        """A tweak button: the ban, cache, quota and admission path of a new video, once per button
        under one GIF (a second tap, or a re-delivered press, does nothing)."""
        if markers.was_queued(self.redis, ask.job_id):
            log.info("job=%s already asked for; button pressed again", ask.job_id)
        elif not self.refused_ban(ask):
            self.take(ask, choice, window)

    def refused_ban(self, ask: Ask) -> bool:
        """Refuse a banned user's video; True if refused."""
        if not limits.is_banned(self.redis, ask.profile.user_id):
            return False
        self.refuse(ask, "banned", text("banned", ask.lang))
        return True

    def take(
        self,
        ask: Ask,
        choice: prefs.UserPrefs,
        window: tuple[float, float] | None,
        words: memetext.MemeText | None = None,
    ) -> None:
        """Answer from the cache, else take the hourly quota and queue the conversion."""
        start, end = window or (0.0, None)
        request = ConversionRequest(
            chat_id=ask.chat_id,
            user_id=ask.profile.user_id,
            message_id=ask.message.message_id,
            status_message_id=0,
            **asdict(ask.video),  # file_id, file_unique_id, file_size, kind
            lang=ask.lang,
            **prefs.as_dict(choice),  # width, fps, max_seconds, speed, reverse, output
            start=start,
            end=end,
            variant=variant_of(choice, window, words, ask.lang),
            reply_to=ask.reply_to,
            has_text=words is not None,
            redo=ask.redo,
        )
        if not self.from_cache(ask, request):
            self.queue_video(ask, request, words)

    def queue_video(self, ask: Ask, request: ConversionRequest, words: memetext.MemeText | None) -> None:
        """Take the hourly quota, store the text, submit the job fairly, then answer with a status
        message. The job is queued first, so a worker starts on it while the reply travels (a Bot
        API round trip less before each GIF); the job finds the reply's id in Redis (jobs.status)."""
        profile, job_id, lang = ask.profile, ask.job_id, ask.lang
        user_limits = limits.limits_for(self.redis, profile.user_id, self.settings)
        if not limits.take_hourly(self.redis, profile.user_id, user_limits.per_hour):
            self.refuse(ask, "quota", text("quota", lang, per_hour=user_limits.per_hour))
            return
        earlier = markers.status_message_id(self.redis, job_id) or 0  # a re-delivered update's reply
        request = replace(request, status_message_id=earlier)
        queued = "" if earlier else self.queued_text(lang, profile.user_id)  # its place before it joins
        if words is not None:
            memetext.store(self.redis, job_id, words)
        ttl_s, gif = self.settings.user_data_ttl_s, (request.file_unique_id, request.variant)

        def record(pipe: Pipeline) -> None:  # in the transaction that queues the job
            stats.add_video(pipe, profile, job_id, request.file_size, ttl_s=ttl_s, gif=gif)

        admission = submit(self.queue, request, self.settings, user_limits, record)
        if admission in (Admission.DUPLICATE, Admission.FULL):
            limits.give_back_hourly(self.redis, profile.user_id)
        if admission is Admission.FULL:
            memetext.drop(self.redis, job_id)
            body = text("too_many", lang, max_pending=user_limits.max_pending)
            if earlier:
                self.replier.edit(ask.chat_id, earlier, body)
            else:
                self.replier.reply(ask.message, body, **answering(ask.reply_to))
            stats.record_refused(self.redis, profile, "too_many", ttl_s=ttl_s)
        elif admission is not Admission.DUPLICATE and queued:
            self.status_message(ask.message, job_id, queued, ask.reply_to)
        log.info("job=%s user=%s kind=%s %s", job_id, profile.user_id, request.kind.value, admission.value)

    def from_cache(self, ask: Ask, request: ConversionRequest) -> bool:
        """Answer a repeat at once by re-sending the GIF Telegram already has, with its tweak
        buttons (none for a GIF with words: they are not kept); False on a miss."""
        hit = cache.get(self.redis, request.file_unique_id, request.variant)
        if hit is None:
            return False
        seconds = hit.seconds or ((request.end or request.max_seconds) - request.start)
        recipe = None if request.has_text else redo.recipe_of(request, seconds, hit.more)
        buttons = recipe and tweaks.buttons(recipe, self.settings.max_seconds, ask.lang)

        def send() -> Message:
            target = request.reply_target
            return telegram.send_gif(
                self.bot, ask.chat_id, hit.file_id, hit.output, target, reply_markup=buttons
            )

        sent = self.replier.paced(ask.chat_id, "sendAnimation", send)
        if sent is None:
            return False  # the cached file_id failed: convert again
        if recipe is not None:
            redo.save(self.redis, ask.chat_id, sent.message_id, recipe)
        job_id, ttl_s = ask.job_id, self.settings.user_data_ttl_s
        gif = (request.file_unique_id, request.variant)
        stats.record_video(self.redis, ask.profile, job_id, request.file_size, ttl_s=ttl_s, gif=gif)
        stats.record_outcome(
            self.redis, ask.profile.user_id, job_id, Outcome.DELIVERED, size_out=hit.size_bytes, ttl_s=ttl_s
        )
        markers.mark_queued(self.redis, job_id)
        log.info("job=%s user=%s answered from cache", job_id, ask.profile.user_id)
        return True

    def status_message(self, message: Message, job_id: str, body: str, reply_to: int = 0) -> int:
        """Reply with the status message `body` and store its id for the job; 0 if none was sent.

        The job was queued first: if its GIF went out already, or its failure in a reply of its own
        (jobs.status waits a while for this message's id before it does that), the job looked for
        this message before it was stored, so the reply is deleted here."""
        status = self.replier.reply(message, body, **answering(reply_to))
        markers.remember_status(self.redis, job_id, 0 if status is None else status.message_id)
        if status is None:
            return 0  # the job's final words need not wait for a reply (jobs.status)
        if markers.answered(self.redis, job_id):
            chat_id, status_id = message.chat.id, status.message_id
            self.replier.paced(chat_id, "deleteMessage", lambda: self.bot.delete_message(chat_id, status_id))
        return status.message_id

    def queued_text(self, lang: str, user_id: int) -> str:
        """'In line: position N, about M s' from the queue length, worker count and recent speed."""
        ahead, workers, typical_s = outlook(self.queue, user_id)
        wait = math.ceil((ahead / max(1, workers) + 1) * typical_s)
        return text("status_queued", lang, position=ahead + 1, wait=wait)

    def refuse(self, ask: Ask, reason: str, body: str, reply_to: int = 0) -> None:
        """Reply with why a video is refused and count it."""
        self.replier.reply(ask.message, body, **answering(reply_to))
        stats.record_refused(self.redis, ask.profile, reason, ttl_s=self.settings.user_data_ttl_s)
