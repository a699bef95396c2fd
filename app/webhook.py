"""Webhook mode (BOT_MODE=webhook): Telegram POSTs updates to us; the secret-token header is checked.

An authentic update is answered 200 only once it is stored in its chat's inbox (app.receiver);
while Redis is away the answer is 503, so Telegram keeps the update and sends it again later.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading

import telebot
from flask import Flask, Response, request
from redis import Redis
from werkzeug.serving import BaseWSGIServer, make_server

from app.lanes import ChatLanes
from app.receiver import Receiver
from core import telegram
from core.settings import Settings

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram/webhook"
MAX_UPDATE_BYTES = 1024 * 1024
DRAIN_ON_STOP_S = 3.0


def build_webhook_app(receiver: Receiver, secret: str) -> Flask:
    """A tiny WSGI app that stores each authentic update for the chat lanes."""
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
            raw = json.loads(request.get_data(as_text=True))
            telebot.types.Update.de_json(raw)  # refuse what telebot could not handle later
        except (ValueError, TypeError, KeyError, AttributeError):
            return Response("not an update", status=400)
        if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
            return Response("not an update", status=400)
        if not receiver.take([raw]):
            return Response("storage unavailable, send it again later", status=503)
        return Response("", status=200)

    return app


class WebhookServer:
    """Registers the webhook with Telegram and serves it until stop()."""

    def __init__(self, settings: Settings, bot: telebot.TeleBot, redis: Redis) -> None:
        self.settings = settings
        self.bot = bot
        self.lanes = ChatLanes(redis, lambda update: bot.process_new_updates([update]))
        self.receiver = Receiver(bot, redis, self.lanes)
        self.stopping = threading.Event()
        app = build_webhook_app(self.receiver, settings.webhook_secret)
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
        """Serve until stop() (called from a signal handler); stored updates are swept meanwhile."""
        log.info("webhook listening on %s:%s", self.settings.webhook_host, self.server.server_port)
        threading.Thread(target=self._sweep, name="inbox-sweep", daemon=True).start()
        self.server.serve_forever()
        self.lanes.stop(DRAIN_ON_STOP_S)

    def _sweep(self) -> None:
        while not self.stopping.wait(1.0):
            self.receiver.sweep_now_and_then()

    def stop(self) -> None:
        """Stop serving; safe to call from a signal handler."""
        self.stopping.set()
        threading.Thread(target=self.server.shutdown, daemon=True).start()
