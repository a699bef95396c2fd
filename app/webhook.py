"""Webhook mode (BOT_MODE=webhook): Telegram POSTs updates to us; the secret-token header is checked.

An authentic update is answered 200 only once it is stored in its chat's inbox (app.receiver);
while Redis is away the answer is 503, so Telegram keeps the update and sends it again later.

gunicorn serves it: `python -m app` becomes its master and forks exactly one gthread worker, which
holds the chat lanes (they live in memory, so never two workers). The master registers the webhook
once it listens and restarts the worker if it dies; SIGTERM stops both within STOP_GRACE_S.
"""

from __future__ import annotations

import hmac
import json
import logging
import signal
import threading
from typing import Any

import telebot
from flask import Flask, Response, request
from gunicorn.app.base import BaseApplication

from app import command_menu
from app.bot import build_bot
from app.lanes import ChatLanes
from app.receiver import Receiver
from core import telegram
from core.connection import connect
from core.gunicorn_logs import OneLineLogs
from core.settings import Settings

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram/webhook"
MAX_UPDATE_BYTES = 1024 * 1024
DRAIN_ON_STOP_S = 3.0
SERVER_THREADS = 8  # requests only store an update in Redis, so a few threads keep up with Telegram
STOP_GRACE_S = 8  # gunicorn's graceful_timeout: the worker is killed after this; under the 15 s rule


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


class WebhookServer(BaseApplication):
    """gunicorn, configured in code: one worker process with threads, lanes in that worker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lanes: ChatLanes | None = None
        self.stopping = threading.Event()
        super().__init__()

    def load_config(self) -> None:
        host, port = self.settings.webhook_host, self.settings.webhook_port
        options = {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": 1,  # the chat lanes live in this one process's memory
            "worker_class": "gthread",
            "threads": SERVER_THREADS,
            "graceful_timeout": STOP_GRACE_S,
            "preload_app": False,  # load() runs in the worker, after the fork
            "control_socket_disable": True,  # no ~/.gunicorn/gunicorn.ctl shared with the admin's
            "logger_class": OneLineLogs,
            "loglevel": self.settings.log_level.lower(),
            "when_ready": self.when_ready,
            "worker_exit": self.worker_exit,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def when_ready(self, _arbiter: Any) -> None:
        """In the master, once it listens: tell Telegram where to POST and which secret to send."""
        url, secret = self.settings.webhook_url.rstrip("/") + WEBHOOK_PATH, self.settings.webhook_secret
        bot = telegram.build_client(self.settings)
        previous = {sig: signal.signal(sig, _exit_now) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:  # a stop must not wait for a slow Telegram: no worker is running yet
            telegram.call("setWebhook", lambda: bot.set_webhook(url=url, secret_token=secret))
            command_menu.publish(bot)  # best effort: a failure is logged
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            telegram.drop_connections()  # the worker is forked from this process next
        log.info("webhook registered; listening on %s", self.cfg.bind[0])

    def load(self) -> Flask:
        """In the worker: build the bot, its chat lanes and the inbox sweep, and return the WSGI app."""
        redis = connect(self.settings)
        bot = build_bot(self.settings, redis)
        self.lanes = ChatLanes(redis, lambda update: bot.process_new_updates([update]))
        receiver = Receiver(bot, redis, self.lanes)
        threading.Thread(target=self._sweep, args=(receiver,), name="inbox-sweep", daemon=True).start()
        return build_webhook_app(receiver, self.settings.webhook_secret)

    def _sweep(self, receiver: Receiver) -> None:
        while not self.stopping.wait(1.0):
            receiver.sweep_now_and_then()

    def worker_exit(self, _arbiter: Any, _worker: Any) -> None:
        """In the worker, after it stopped serving: let the lanes finish what they are handling."""
        self.stopping.set()
        if self.lanes is not None:
            self.lanes.stop(DRAIN_ON_STOP_S)


def _exit_now(signum: int, _frame: object) -> None:
    log.info("signal %s: stopping", signum)
    raise SystemExit(0)
