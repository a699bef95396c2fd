"""The one status message per video: edited in place as the job moves along (best effort)."""

from __future__ import annotations

import logging

import telebot

from app import telegram
from app.errors import ChatUnreachable, TransientError
from app.models import ConversionRequest
from app.texts import text

log = logging.getLogger(__name__)
STATUS_EDIT_MAX_WAIT_S = 5.0  # progress is nice to have; never stall a job on it


def show(bot: telebot.TeleBot, request: ConversionRequest, key: str, **params: object) -> bool:
    """Edit the status message to text `key`; False if it could not be shown."""
    if not request.status_message_id:
        return False
    body = text(key, request.lang, **params)
    try:
        telegram.call(
            "editMessageText",
            lambda: bot.edit_message_text(body, request.chat_id, request.status_message_id),
            max_wait=STATUS_EDIT_MAX_WAIT_S,
        )
        return True
    except (TransientError, ChatUnreachable, telebot.apihelper.ApiException) as exc:
        log.info("status edit for job=%s skipped: %s", request.job_id, type(exc).__name__)
        return False


def remove(bot: telebot.TeleBot, request: ConversionRequest) -> None:
    """Delete the status message once the GIF is there (best effort)."""
    if not request.status_message_id:
        return
    try:
        telegram.call(
            "deleteMessage",
            lambda: bot.delete_message(request.chat_id, request.status_message_id),
            max_wait=STATUS_EDIT_MAX_WAIT_S,
        )
    except (TransientError, ChatUnreachable, telebot.apihelper.ApiException) as exc:
        log.info("status delete for job=%s skipped: %s", request.job_id, type(exc).__name__)


def tell(bot: telebot.TeleBot, request: ConversionRequest, key: str, **params: object) -> None:
    """Show a final message: edit the status message, or reply to the video if that fails."""
    if show(bot, request, key, **params):
        return
    body = text(key, request.lang, **params)
    reply = telebot.types.ReplyParameters(request.message_id, allow_sending_without_reply=True)
    telegram.call("sendMessage", lambda: bot.send_message(request.chat_id, body, reply_parameters=reply))
