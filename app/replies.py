"""How the bot speaks: paced per chat, never raising, fixed texts only (no parse_mode)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import telebot
from redis import Redis
from telebot.types import Message

from core import pace, telegram
from core.chat import paced_send

log = logging.getLogger(__name__)
T = TypeVar("T")
REPLY_MAX_WAIT_S = 10.0  # a reply waits out a 429 this long at most: other chats are waiting too


class Replier:
    """Sends, edits and answers for the bot; a failure is logged and returns None."""

    def __init__(self, bot: telebot.TeleBot, redis: Redis) -> None:
        self.bot = bot
        self.redis = redis

    def paced(self, chat_id: int, method: str, fn: Callable[[], T]) -> T | None:
        """Run one call in this chat's next free slot, ahead of GIFs and status edits in the budget."""
        return paced_send(self.redis, chat_id, method, fn, max_wait=REPLY_MAX_WAIT_S, kind=pace.Kind.ACK)

    def reply(self, message: Message, body: str, **kwargs: object) -> Message | None:
        """Reply to a message with a fixed text."""
        return self.paced(message.chat.id, "sendMessage", lambda: self.bot.reply_to(message, body, **kwargs))

    def edit(self, chat_id: int, message_id: int, body: str, **kwargs: object) -> None:
        """Replace the text of a message the bot sent."""
        self.paced(
            chat_id,
            "editMessageText",
            lambda: self.bot.edit_message_text(body, chat_id, message_id, **kwargs),
        )

    def answer(self, call_id: str, body: str) -> None:
        """Answer a button press (shown as a small toast)."""
        try:
            telegram.call(
                "answerCallbackQuery", lambda: self.bot.answer_callback_query(call_id, body), max_wait=5
            )
        except telegram.SEND_ERRORS as exc:
            log.info("callback answer failed: %s", type(exc).__name__)
