"""The command menu Telegram shows next to the message box: set once per start, per language.

Only commands that work are listed (a menu entry that answers "I don't know that command" is worse
than none): add one here when its handler exists. Descriptions come from core.texts.
"""

from __future__ import annotations

import logging

import telebot
from telebot.types import BotCommand

from core import telegram
from core.texts import EN, ZH, text

log = logging.getLogger(__name__)
MENU = ("help", "settings", "cancel", "stats", "privacy", "forget", "text")
# (catalogue, setMyCommands language_code): None is the default every other language gets.
LANGUAGES = ((EN, None), (ZH, "zh"))
MAX_WAIT_S = 5.0  # a 429 on this is waited out briefly; the menu is not worth holding anything up


def commands(lang: str) -> list[BotCommand]:
    """The menu in one language."""
    return [BotCommand(name, text(f"cmd_{name}", lang)) for name in MENU]


def publish(bot: telebot.TeleBot) -> bool:
    """Set the menu for every language; a failure is logged and the bot runs on. True if all set."""
    done = True
    for lang, code in LANGUAGES:
        try:
            telegram.call(
                "setMyCommands",
                lambda lang=lang, code=code: bot.set_my_commands(commands(lang), language_code=code),
                max_wait=MAX_WAIT_S,
            )
        except telegram.SEND_ERRORS as exc:
            log.warning("setMyCommands (%s) failed: %s; the menu stays as it was", lang, type(exc).__name__)
            done = False
    if done:
        log.info("command menu set: /%s", " /".join(MENU))
    return done
