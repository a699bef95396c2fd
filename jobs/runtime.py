"""What a worker process holds for its jobs: settings and a Telegram client, set up once."""

from __future__ import annotations

import telebot

from core import telegram
from core.settings import Settings

_settings: Settings | None = None


def init(settings: Settings) -> None:
    """Install the worker's settings before any job runs (called by jobs.worker before forking)."""
    global _settings
    _settings = settings
    telegram.configure(settings)


def settings() -> Settings:
    """The worker's settings; a worker started by plain `rq worker` reads them on first use."""
    if _settings is None:
        init(Settings.from_env(require=("TELEGRAM_BOT_TOKEN",)))
    assert _settings is not None
    return _settings


def client() -> telebot.TeleBot:
    """A Telegram client for this job (cheap: no network call until used)."""
    return telegram.build_client(settings())
