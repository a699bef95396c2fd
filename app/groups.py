"""The bot in groups: /gif in reply to a video, the group's /settings (admins only), which videos to take.

With privacy mode on (Telegram's default) a group shows the bot only commands, mentions and replies
to it, so /gif in reply to a video is the way in: the video arrives as the command's
reply_to_message. Converting every plain video posted in a group is an admin's choice (off by
default), and works only where the bot sees every message (privacy mode off, or the bot an admin).
"""

from __future__ import annotations

import logging

import telebot
from rq import Queue
from telebot import util
from telebot.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from app.commands import lang_of
from app.intake import Intake
from app.menu import NOOP
from app.replies import Replier
from app.videos import find_video
from core import groups, telegram
from core.keys import group_admin
from core.settings import Settings
from core.texts import text

log = logging.getLogger(__name__)

GROUP_TYPES = frozenset({"group", "supergroup"})
ADMIN_STATUSES = frozenset({"creator", "administrator"})
ADMIN_CACHE_S = 60  # getChatMember's answer is kept this long (a demoted admin keeps it as long)
CALLBACK_PREFIX = "grp"
GET_ME_WAIT_S = 5.0


def in_group(message: Message) -> bool:
    """True for a message in a group or supergroup."""
    return message.chat.type in GROUP_TYPES


def addressee(command_text: str | None) -> str:
    """The bot a command names ('otherbot' from '/gif@OtherBot 3-8'), lower case; '' if none."""
    words = (command_text or "").split(maxsplit=1)
    first = words[0] if words else ""
    return first.partition("@")[2].lower() if first.startswith("/") else ""


def is_group_button(call: CallbackQuery) -> bool:
    """True for a press on a group settings button."""
    return (call.data or "").startswith(CALLBACK_PREFIX + ":")


def callback_data(on: bool) -> str:
    """The data of the 'every video' button that turns it on or off."""
    return f"{CALLBACK_PREFIX}:{groups.EVERY_VIDEO}:{int(on)}"


def group_menu(every_video: bool, lang: str) -> InlineKeyboardMarkup:
    """One row: 'Every video' then On and Off, the current one marked."""
    buttons = [
        InlineKeyboardButton(
            ("• " if on is every_video else "") + text(key, lang), callback_data=callback_data(on)
        )
        for on, key in ((True, "group_on"), (False, "group_off"))
    ]
    label = InlineKeyboardButton(text("group_every_video", lang), callback_data=NOOP)
    return InlineKeyboardMarkup().row(label, *buttons)


class Groups:
    """/gif, the group's settings, and the rules for which group messages are ours."""

    def __init__(
        self, settings: Settings, bot: telebot.TeleBot, queue: Queue, replier: Replier, intake: Intake
    ) -> None:
        self.settings = settings
        self.bot = bot
        self.redis = queue.connection
        self.replier = replier
        self.intake = intake
        self._username = ""

    def username(self) -> str:
        """This bot's @username, lower case (getMe, asked once)."""
        if not self._username:
            me = telegram.call("getMe", self.bot.get_me, max_wait=GET_ME_WAIT_S)
            self._username = (me.username or "").lower()
        return self._username

    def for_another_bot(self, message: Message) -> bool:
        """True for a group command naming another bot (/gif@otherbot): not ours to answer."""
        if not in_group(message) or message.content_type != "text":
            return False
        named = addressee(message.text)
        if not named:
            return False
        try:
            return named != self.username()
        except telegram.SEND_ERRORS as exc:  # cannot tell who it is for: stay quiet in the group
            log.warning("getMe failed (%s); a command for @%s ignored", type(exc).__name__, named)
            return True

    def ignore(self, message: Message) -> None:
        """Leave a message alone (another bot's command)."""

    def on_gif(self, message: Message) -> None:
        """/gif [range] in reply to a video: convert that video for the asker; else say how."""
        lang = lang_of(message)
        target = message.reply_to_message
        video = find_video(target) if target is not None else None
        if video is None:
            self.replier.reply(message, text("gif_how", lang))
            return
        if in_group(message):
            groups.touch(self.redis, message.chat.id, self.settings.user_data_ttl_s)
        trim = util.extract_arguments(message.text or "") or None
        self.intake.handle(message, video, lang, reply_to=target.message_id, trim=trim)

    def takes_video(self, message: Message) -> bool:
        """A plain video is ours in a private chat, and in a group whose admins turned it on."""
        if message.chat.type == "private":
            return True
        if in_group(message) and groups.converts_every_video(self.redis, message.chat.id):
            groups.touch(self.redis, message.chat.id, self.settings.user_data_ttl_s)
            return True
        return False

    def on_settings(self, message: Message) -> None:
        """/settings in a group: the group's menu for an admin, a pointer to the private chat for others."""
        lang = lang_of(message)
        chat_id = message.chat.id
        anonymous_admin = message.sender_chat is not None and message.sender_chat.id == chat_id
        if not anonymous_admin and not self.is_admin(chat_id, message.from_user.id):
            self.replier.reply(message, text("group_admins_only", lang, bot=self.username()))
            return
        on = groups.converts_every_video(self.redis, chat_id)
        self.replier.reply(message, text("group_settings_title", lang), reply_markup=group_menu(on, lang))

    def on_button(self, call: CallbackQuery) -> None:
        """A group settings button: applied only if the presser is the group's admin right now."""
        lang, message = lang_of(call), call.message
        on = {callback_data(True): True, callback_data(False): False}.get(call.data)
        if on is None or message is None or message.chat.type not in GROUP_TYPES:
            self.replier.answer(call.id, text("button_expired", lang))
            return
        if not self.is_admin(message.chat.id, call.from_user.id):
            log.info(
                "group=%s user=%s pressed a group setting: not an admin", message.chat.id, call.from_user.id
            )
            self.replier.answer(call.id, text("group_admins_only_button", lang))
            return
        groups.set_every_video(self.redis, message.chat.id, on, self.settings.user_data_ttl_s)
        self.replier.answer(call.id, text("settings_saved", lang))
        body, markup = text("group_settings_title", lang), group_menu(on, lang)
        self.replier.edit(message.chat.id, message.message_id, body, reply_markup=markup)

    def is_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether a user is the group's creator or an admin (getChatMember, kept ADMIN_CACHE_S)."""
        key = group_admin(chat_id, user_id)
        cached = self.redis.get(key)
        if cached is not None:
            return cached == b"1"
        try:
            member = telegram.call(
                "getChatMember", lambda: self.bot.get_chat_member(chat_id, user_id), max_wait=GET_ME_WAIT_S
            )
        except telegram.SEND_ERRORS as exc:
            log.warning("getChatMember failed (%s); not treated as an admin", type(exc).__name__)
            return False
        admin = member.status in ADMIN_STATUSES
        self.redis.set(key, "1" if admin else "0", ex=ADMIN_CACHE_S)
        return admin
