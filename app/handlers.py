"""Wire the bot's handlers: commands, the settings, /forget and redo buttons, videos, a polite reply."""

from __future__ import annotations

import logging

import telebot
from rq import Queue
from telebot.types import Message

from app.commands import Commands, lang_of
from app.groups import GROUP_TYPES, Groups, is_group_button
from app.intake import Intake
from app.memecmd import TextCommand
from app.privacy import Privacy, is_forget_button
from app.redo import Redo
from app.replies import Replier
from app.videos import find_video
from core.settings import Settings
from core.texts import text
from core.tweaks import is_redo_button

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
        self.privacy = Privacy(settings, queue, self.replier)
        self.groups = Groups(settings, bot, queue, self.replier, self.intake)
        self.text = TextCommand(self.intake, self.replier)
        self.redo = Redo(settings, queue.connection, self.intake, self.replier)

    def register(self) -> None:
        """Attach every handler to the bot; order matters (first match wins).

        A Redis error propagates: the chat lane keeps the update stored and handles it again once
        Redis is back (every handler is safe to run twice for one update).
        """
        c, g, add = self.commands, self.groups, self.bot.register_message_handler
        add(g.ignore, func=g.for_another_bot)  # /gif@otherbot in a group is not ours
        add(c.on_help, commands=["start", "help"])
        add(g.on_gif, commands=["gif"])
        add(g.on_settings, commands=["settings"], chat_types=list(GROUP_TYPES))
        add(c.on_settings, commands=["settings"])
        add(c.on_cancel, commands=["cancel"])
        add(c.on_stats, commands=["stats"])
        add(self.privacy.on_privacy, commands=["privacy"])
        add(self.privacy.on_forget, commands=["forget"])
        add(self.text.on_text, commands=["text"])
        add(c.on_unknown, func=lambda m: is_command(m) and m.chat.type == "private")  # in groups: others'
        add(self.on_any, content_types=None, func=lambda _m: True)
        self.bot.register_callback_query_handler(self.privacy.on_button, func=is_forget_button)
        self.bot.register_callback_query_handler(g.on_button, func=is_group_button)
        self.bot.register_callback_query_handler(self.redo.on_button, func=is_redo_button)
        self.bot.register_callback_query_handler(c.on_button, func=lambda _c: True)

    def on_any(self, message: Message) -> None:
        """Queue a video (in a group only if its admins asked for every video); explain politely
        in a private chat when the message holds none."""
        lang = lang_of(message)
        video = find_video(message)
        if video is None:
            if message.chat.type == "private":  # in groups, other people's chatter is not for us
                self.replier.reply(message, text("not_video", lang))
            return
        if self.groups.takes_video(message):
            self.intake.handle(message, video, lang)
