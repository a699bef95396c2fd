"""Slots of jobs that no longer exist: the scheduler frees them, so no user's videos wait forever.

A job ends through our RQ callbacks (jobs.delivery), which free its slot and queue the user's next
waiting video (core.admission.release). A job deleted in rq-dashboard, or lost another way, never
calls them: its slot stayed taken until it counted as stale (STALE_ACTIVE_S, 3 h), and even then
only the user's next video freed it, so the videos already waiting never ran. This pass looks at
the users listed in keys.ACTIVE_USERS (a bounded SSCAN step per pass), frees every slot whose RQ
job is gone, queues the next waiting video and tells the user once that their video was removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import telebot
from redis import Redis
from rq import Queue

from core import admission, keys, markers, stats, telegram
from core.models import Outcome, job_id_for, parse_job_id
from core.settings import Settings
from core.texts import language_for
from jobs.status import StatusMessage

log = logging.getLogger(__name__)
USERS_PER_PASS = 200  # SSCAN COUNT: about this many users are looked at per pass
NOTICE = "job_deleted"  # the text the user gets, and the reason their job record shows


@dataclass(frozen=True)
class LostJob:
    """What is known of a job RQ no longer has: its video message, status message and language."""

    chat_id: int
    user_id: int
    message_id: int
    status_message_id: int
    lang: str
    redo: str = ""  # the tweak button of a redo job (its message_id is then the GIF's)

    @property
    def job_id(self) -> str:
        """The job's id (made from the video message, or the GIF and button, as for every job)."""
        return job_id_for(self.chat_id, self.message_id, self.redo)


Tell = Callable[[LostJob], None]


def free_lost_slots(redis: Redis, settings: Settings, tell: Tell) -> int:
    """One bounded pass: free the slots of jobs that no longer exist, queue the users' next
    waiting videos and tell each user once; returns how many slots were freed."""
    cursor = int(redis.get(keys.LOST_SLOTS_CURSOR) or 0)
    cursor, users = redis.sscan(keys.ACTIVE_USERS, cursor, count=USERS_PER_PASS)
    redis.set(keys.LOST_SLOTS_CURSOR, cursor)
    queue = admission.gif_queue(redis, settings)
    return sum(free_user(queue, int(raw), settings, tell) for raw in users)


def free_user(queue: Queue, user_id: int, settings: Settings, tell: Tell) -> int:
    """Free this user's slots whose job is gone; an idle user leaves keys.ACTIVE_USERS."""
    redis = queue.connection
    job_ids = [raw.decode() for raw in redis.zrange(keys.user_active(user_id), 0, -1)]
    if not job_ids:
        admission.forget_idle_user(redis, user_id)
        return 0
    with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(queue.job_class.key_for(job_id))
        found = pipe.execute()
    freed = 0
    for job_id, exists in zip(job_ids, found, strict=True):
        if exists or not admission.release_lost(queue, job_id, user_id, settings):
            continue  # alive, or ended (and freed) since we looked
        freed += 1
        log.warning("job=%s of user %s no longer exists (deleted?); its slot is free", job_id, user_id)
        notify(redis, job_id, user_id, tell, settings.user_data_ttl_s)
    return freed


def notify(redis: Redis, job_id: str, user_id: int, tell: Tell, ttl_s: int) -> None:
    """Count the job as failed and tell its user, once, unless its GIF was (maybe) sent."""
    lost = lost_job(redis, job_id, user_id)
    if lost is None or markers.send_state(redis, job_id) is not None:
        return
    if not markers.claim_failure_notice(redis, job_id):
        return  # told before (e.g. its failure callback ran, then the job was deleted)
    stats.record_outcome(redis, user_id, job_id, Outcome.FAILED, reason=NOTICE, ttl_s=ttl_s)
    tell(lost)


def lost_job(redis: Redis, job_id: str, user_id: int) -> LostJob | None:
    """Rebuild where to reply from the job id, the remembered status message and the user's language."""
    parsed = parse_job_id(job_id)
    if parsed is None:
        return None
    chat_id, message_id, redo = parsed
    status_id = markers.status_message_id(redis, job_id) or 0
    lang = language_for(stats.user_language(redis, user_id))
    return LostJob(chat_id, user_id, message_id, status_id, lang, redo)


def teller(redis: Redis, settings: Settings) -> Tell:
    """Tell users through Telegram (their status message, else a reply); log only without a token."""
    bot: telebot.TeleBot | None = None
    if settings.telegram_bot_token:
        bot = telegram.build_client(settings)

    def tell(lost: LostJob) -> None:
        if bot is None:
            log.warning(
                "job=%s removed; no TELEGRAM_BOT_TOKEN here to tell user %s", lost.job_id, lost.user_id
            )
            return
        try:
            StatusMessage(bot, redis, lost).tell(NOTICE)
        except telegram.SEND_ERRORS as exc:
            log.warning("job=%s could not tell user %s: %s", lost.job_id, lost.user_id, type(exc).__name__)

    return tell
