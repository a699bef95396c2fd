"""`python -m app`: run the bot (long polling) until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import sys

from app.bot import Poller, build_bot
from app.connection import connect
from app.logs import setup_logging
from app.settings import Settings


def main() -> int:
    """Read settings, build the bot, poll until told to stop."""
    settings = Settings.from_env(require=("TELEGRAM_BOT_TOKEN",))
    setup_logging(settings, "bot")
    poller = Poller(build_bot(settings, connect(settings)))

    def stop(signum: int, _frame: object) -> None:
        logging.getLogger("app").info("signal %s: stopping", signum)
        poller.interrupt()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger("app").info("bot polling %s", settings.telegram_api_url)
    poller.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
