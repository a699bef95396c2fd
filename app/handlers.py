"""Wire the bot's handlers: commands, settings buttons, videos, and a polite answer for the rest."""

from __future__ import annotations

import logging

import telebot
from rq import Queue
from telebot.types import Message

from app.commands import Commands, lang_of
from app.intake import Intake, find_video
from app.replies import Replier
from core.connection import REDIS_DOWN
from core.settings import Settings
from core.texts import text

log = logging.getLogger(__name__)


def is_command(message: Message) -> bool:
    """True for a text message that starts with a /command."""
    return message.content_type == "text" and (message.text or "").startswith("/")


class Handlers:
    """The bot's handlers, holding what they need instead of globals."""

    def __init__(self, settings: Settings, bot: telebot.TeleBot, queue: Queue) -> None:
        self.bot = bot
        self.replier = Replier(bot, queue.connection)
        self.commands = Commands(settings, queue, self.replier)
        self.intake = Intake(settings, bot, queue, self.replier)

    def register(self) -> None:
        """Attach every handler to the bot; order matters (first match wins)."""
        c, add = self.commands, self.bot.register_message_handler
        add(self.guarded(c.on_help), commands=["start", "help"])
        add(self.guarded(c.on_settings), commands=["settings"])
        add(self.guarded(c.on_cancel), commands=["cancel"])
        add(self.guarded(c.on_stats), commands=["stats"])
        add(self.guarded(c.on_unknown), func=is_command)
        add(self.guarded(self.on_any), content_types=None, func=lambda _m: True)
        self.bot.register_callback_query_handler(self.guarded(c.on_button), func=lambda _c: True)

    def guarded(self, handler):
        """Run a handler; while Redis is down the user is told to retry shortly, never left in silence."""

        def run(update) -> None:
            try:
                handler(update)
            except REDIS_DOWN:
                log.warning("redis unreachable; told the user to retry later")
                if isinstance(update, Message):
                    self.replier.reply(update, text("busy", lang_of(update)))
                else:
                    self.replier.answer(update.id, text("busy", lang_of(update)))

        return run

    def on_any(self, message: Message) -> None:
        """Queue a video; explain politely when the message holds none."""
        lang = lang_of(message)
        video = find_video(message)
        if video is None:
            if message.chat.type == "private":  # in groups, other people's chatter is not for us
                self.replier.reply(message, text("not_video", lang))
            return
        self.intake.handle(message, video, lang)
