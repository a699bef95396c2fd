"""Webhook mode (BOT_MODE=webhook): Telegram POSTs updates to us; the secret-token header is checked."""

from __future__ import annotations

import hmac
import logging
import threading

import telebot
from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, make_server

from core import telegram
from core.settings import Settings

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram/webhook"
MAX_UPDATE_BYTES = 1024 * 1024


def build_webhook_app(bot: telebot.TeleBot, secret: str) -> Flask:
    """A tiny WSGI app that hands each authentic update to the bot's handlers."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPDATE_BYTES
    expected = secret.encode()

    @app.post(WEBHOOK_PATH)
    def receive() -> Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return Response("missing secret token", status=401)
        if not hmac.compare_digest(given.encode(), expected):
            return Response("wrong secret token", status=403)
        try:
            update = telebot.types.Update.de_json(request.get_data(as_text=True))
        except ValueError:
            return Response("not an update", status=400)
        if update is None:
            return Response("not an update", status=400)
        try:
            bot.process_new_updates([update])
        except Exception:
            log.exception("update %s crashed its handler; skipped", update.update_id)
        return Response("", status=200)

    return app


class WebhookServer:
    """Registers the webhook with Telegram and serves it until stop()."""

    def __init__(self, settings: Settings, bot: telebot.TeleBot) -> None:
        self.settings = settings
        self.bot = bot
        app = build_webhook_app(bot, settings.webhook_secret)
        self.server: BaseWSGIServer = make_server(
            settings.webhook_host, settings.webhook_port, app, threaded=True
        )

    def register(self) -> None:
        """Tell Telegram where to POST updates and which secret to send with them."""
        url = self.settings.webhook_url.rstrip("/") + WEBHOOK_PATH
        telegram.call(
            "setWebhook", lambda: self.bot.set_webhook(url=url, secret_token=self.settings.webhook_secret)
        )

    def run(self) -> None:
        """Serve until stop() (called from a signal handler)."""
        log.info("webhook listening on %s:%s", self.settings.webhook_host, self.server.server_port)
        self.server.serve_forever()

    def stop(self) -> None:
        """Stop serving; safe to call from a signal handler."""
        threading.Thread(target=self.server.shutdown, daemon=True).start()
