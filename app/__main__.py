"""`python -m app`: run the bot (long polling, or a webhook served by gunicorn) until SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable

from app.bot import Poller, build_bot
from app.webhook import WebhookServer
from core.connection import connect
from core.logs import setup_logging
from core.settings import Settings

log = logging.getLogger("app")


def on_stop_signals(stop: Callable[[], None]) -> None:
    """Call stop() on SIGTERM and SIGINT."""

    def handler(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signum)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def main() -> int:
    """Read settings, build the bot, take updates until told to stop."""
    settings = Settings.from_env(require=("TELEGRAM_BOT_TOKEN",))
    setup_logging(settings, "bot")
    if settings.bot_mode == "webhook":
        WebhookServer(settings).run()  # gunicorn: this process is its master; it exits on SIGTERM
        return 0
    redis = connect(settings)
    bot = build_bot(settings, redis)
    poller = Poller(bot, redis)
    on_stop_signals(poller.interrupt)
    log.info("bot polling %s", settings.telegram_api_url)
    poller.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
