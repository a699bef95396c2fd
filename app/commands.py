"""Commands and buttons: /start, /help, /settings (inline menu), /cancel, /stats."""

from __future__ import annotations

import logging

from rq import Queue
from telebot.types import CallbackQuery, Message

from app import menu
from app.cancel import cancel_user_jobs
from app.intake import actor_id
from app.replies import Replier
from core import prefs, stats
from core.settings import Settings
from core.texts import language_for, text

log = logging.getLogger(__name__)


def lang_of(message: Message | CallbackQuery) -> str:
    """The catalogue language for the sender of a message or button press."""
    return language_for(message.from_user.language_code if message.from_user else None)


class Commands:
    """The bot's commands and its settings buttons."""

    def __init__(self, settings: Settings, queue: Queue, replier: Replier) -> None:
        self.settings = settings
        self.queue = queue
        self.replier = replier

    def on_help(self, message: Message) -> None:
        """Explain what the bot does."""
        s = self.settings
        body = text(
            "help",
            lang_of(message),
            max_mb=s.max_input_mb,
            max_seconds=f"{s.max_seconds:g}",
            width=s.gif_width,
            fps=s.gif_fps,
        )
        self.replier.reply(message, body)

    def on_settings(self, message: Message) -> None:
        """Show the settings menu with the user's current choices."""
        lang, user_id = lang_of(message), actor_id(message)
        choice = prefs.load(self.queue.connection, user_id, self.settings)
        markup = menu.settings_menu(choice, lang, self.settings)
        self.replier.reply(message, text("settings_title", lang), reply_markup=markup)

    def on_button(self, call: CallbackQuery) -> None:
        """Apply a settings button; anything not on the menus gets a polite 'expired' answer."""
        lang = lang_of(call)
        if call.data == menu.NOOP:
            self.replier.answer(call.id, "")
            return
        parsed = menu.parse_callback(call.data, self.settings)
        if parsed is None or call.message is None:
            self.replier.answer(call.id, text("button_expired", lang))
            return
        redis, user_id = self.queue.connection, call.from_user.id
        prefs.save_choice(redis, user_id, *parsed, ttl_s=self.settings.user_data_ttl_s)
        choice = prefs.load(redis, user_id, self.settings)
        self.replier.answer(call.id, text("settings_saved", lang))
        self.replier.edit(
            call.message.chat.id,
            call.message.message_id,
            text("settings_title", lang),
            reply_markup=menu.settings_menu(choice, lang, self.settings),
        )

    def on_cancel(self, message: Message) -> None:
        """Stop the user's waiting, queued or running videos and say what happened."""
        lang = lang_of(message)
        cancelled = cancel_user_jobs(self.queue, actor_id(message), self.settings)
        for request in cancelled.requests:
            if request.status_message_id:
                self.replier.edit(
                    request.chat_id, request.status_message_id, text("cancelled_one", request.lang)
                )
        key = "cancelled" if cancelled.requests else "nothing_to_cancel"
        self.replier.reply(message, text(key, lang, count=len(cancelled.requests)))

    def on_stats(self, message: Message) -> None:
        """Show the user their own numbers."""
        mine = stats.user_stats(self.queue.connection, actor_id(message))
        median = f"{mine.median_seconds:.1f}" if mine.median_seconds is not None else "-"
        body = text(
            "my_stats",
            lang_of(message),
            videos=mine.videos,
            delivered=mine.delivered,
            failed=mine.failed,
            refused=mine.refused,
            mb_out=f"{mine.bytes_out / 1e6:.1f}",
            median=median,
        )
        self.replier.reply(message, body)

    def on_unknown(self, message: Message) -> None:
        """Any other /command (odd arguments included) gets a pointer to /help."""
        self.replier.reply(message, text("unknown_command", lang_of(message)))
