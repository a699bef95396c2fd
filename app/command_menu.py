"""The command menu Telegram shows next to the message box: set once per start, per language.

Only commands that work are listed (a menu entry that answers "I don't know that command" is worse
than none): add one here when its handler exists. Descriptions come from core.texts. Groups get a
menu of their own (BotCommandScopeAllGroupChats): the commands that make sense there.
"""

from __future__ import annotations

import itertools
import logging

import telebot
from telebot.types import BotCommand, BotCommandScope, BotCommandScopeAllGroupChats, BotCommandScopeDefault

from core import telegram
from core.texts import EN, ZH, text

log = logging.getLogger(__name__)
MENU = ("help", "gif", "text", "settings", "cancel", "stats", "privacy", "forget")
GROUP_MENU = ("gif", "text", "settings", "help")
# (catalogue, setMyCommands language_code): None is the default every other language gets.
LANGUAGES = ((EN, None), (ZH, "zh"))
MAX_WAIT_S = 5.0  # a 429 on this is waited out briefly; the menu is not worth holding anything up


def commands(lang: str, names: tuple[str, ...] = MENU) -> list[BotCommand]:
    """The menu in one language."""
    return [BotCommand(name, text(f"cmd_{name}", lang)) for name in names]


def menus() -> list[tuple[BotCommandScope, tuple[str, ...]]]:
    """Each scope with its commands: private chats (the default) and groups."""
    return [(BotCommandScopeDefault(), MENU), (BotCommandScopeAllGroupChats(), GROUP_MENU)]


def publish(bot: telebot.TeleBot) -> bool:
    """Set the menus of every scope and language; a failure is logged, the bot runs on. True if all set."""
    done = True
    for (scope, names), (lang, code) in itertools.product(menus(), LANGUAGES):
        try:
            telegram.call(
                "setMyCommands",
                lambda s=scope, n=names, lang=lang, c=code: bot.set_my_commands(
                    commands(lang, n), scope=s, language_code=c
                ),
                max_wait=MAX_WAIT_S,
            )
        except telegram.SEND_ERRORS as exc:
            what = f"{scope.type}, {lang}"
            log.warning("setMyCommands (%s) failed: %s; the menu stays as it was", what, type(exc).__name__)
            done = False
    if done:
        log.info("command menu set: /%s; in groups /%s", " /".join(MENU), " /".join(GROUP_MENU))
    return done
