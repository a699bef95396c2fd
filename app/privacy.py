"""/privacy says what the bot keeps and for how long; /forget deletes it after a confirmation button.

The confirmation's callback data names the user and when it was asked ("forget:yes:42:1700000000"),
so a button pressed by someone else, forged, or older than CONFIRM_S gets the polite "no longer
active" answer the settings buttons give. Videos in progress are stopped first (as /cancel does)
and their slots waited for, so no worker writes the user's data again after it was deleted.
"""

from __future__ import annotations

import logging
import time

from rq import Queue
from telebot.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from app.cancel import cancel_user_jobs
from app.commands import lang_of
from app.replies import Replier
from core import erasure
from core.settings import Settings
from core.texts import text

log = logging.getLogger(__name__)
CALLBACK_PREFIX = "forget"
ANSWERS = ("yes", "no")
CONFIRM_S = 600  # a confirmation button older than this is stale
STOP_WAIT_S = 15.0  # how long /forget waits for a stopped video's worker to give its slot back
STOP_POLL_S = 0.2


def is_forget_button(call: CallbackQuery) -> bool:
    """True for a press on a /forget confirmation button (valid or not: on_button decides)."""
    return (call.data or "").startswith(CALLBACK_PREFIX + ":")


def forget_buttons(user_id: int, lang: str, now: float) -> InlineKeyboardMarkup:
    """The two confirmation buttons, bound to this user and this moment."""
    markup = InlineKeyboardMarkup()
    data = {answer: f"{CALLBACK_PREFIX}:{answer}:{user_id}:{int(now)}" for answer in ANSWERS}
    markup.row(*(InlineKeyboardButton(text(f"forget_{a}", lang), callback_data=data[a]) for a in ANSWERS))
    return markup


def parse_forget(data: str, user_id: int, now: float) -> str | None:
    """'yes' or 'no' from a confirmation this user was shown within CONFIRM_S; None otherwise."""
    parts = (data or "").split(":")
    if len(parts) != 4 or parts[0] != CALLBACK_PREFIX or parts[1] not in ANSWERS:
        return None
    if not (parts[2].isdigit() and parts[3].isdigit()) or int(parts[2]) != user_id:
        return None
    return parts[1] if 0 <= now - int(parts[3]) <= CONFIRM_S else None


class Privacy:
    """The /privacy and /forget commands and the confirmation buttons."""

    def __init__(self, settings: Settings, queue: Queue, replier: Replier) -> None:
        self.settings = settings
        self.queue = queue
        self.replier = replier

    def on_privacy(self, message: Message) -> None:
        """Say what is kept about the user, for how long, and what /forget deletes."""
        days = f"{self.settings.user_data_days:g}"
        self.replier.reply(message, text("privacy", lang_of(message), days=days))

    def on_forget(self, message: Message) -> None:
        """Ask for a confirmation before deleting anything."""
        lang = lang_of(message)
        buttons = forget_buttons(message.from_user.id, lang, time.time())
        self.replier.reply(message, text("forget_confirm", lang), reply_markup=buttons)

    def on_button(self, call: CallbackQuery) -> None:
        """Delete the user's data on 'yes', nothing on 'no'; stale or forged presses are refused."""
        lang = lang_of(call)
        answer = parse_forget(call.data, call.from_user.id, time.time())
        if answer is None or call.message is None:
            self.replier.answer(call.id, text("button_expired", lang))
            return
        self.replier.answer(call.id, "")  # at once: stopping videos may take a few seconds
        if answer == "yes":
            self.forget(call.from_user.id)
        body = text("forget_done" if answer == "yes" else "forget_kept", lang)
        self.replier.edit(call.message.chat.id, call.message.message_id, body)  # the buttons go

    def forget(self, user_id: int) -> erasure.Erased:
        """Stop the user's videos, wait for their slots, then delete their data."""
        cancelled = cancel_user_jobs(self.queue, user_id, self.settings)
        for request in cancelled.requests:
            if request.status_message_id:
                self.replier.edit(
                    request.chat_id, request.status_message_id, text("cancelled_one", request.lang)
                )
        redis, deadline = self.queue.connection, time.monotonic() + STOP_WAIT_S
        stopped = [request.job_id for request in cancelled.requests]
        while not erasure.settled(redis, user_id, stopped) and time.monotonic() < deadline:
            time.sleep(STOP_POLL_S)  # a stopped job's worker records its end, frees the slot, ends it
        erased = erasure.erase_user(redis, user_id)
        log.info(
            "user %s used /forget: %s keys, %s jobs, %s cached GIFs deleted",
            user_id,
            erased.keys,
            erased.jobs,
            erased.gifs,
        )
        return erased
