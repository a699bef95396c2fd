"""Logging setup shared by every process: one line per event, never the bot token."""

from __future__ import annotations

import logging
import sys

from app.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(process_name)s[%(process)d] %(name)s: %(message)s"


class RedactToken(logging.Filter):
    """Replace the bot token wherever it appears in a record (URLs in library logs)."""

    def __init__(self, token: str, process_name: str) -> None:
        super().__init__()
        self.token = token
        self.process_name = process_name

    def filter(self, record: logging.LogRecord) -> bool:
        record.process_name = self.process_name
        if self.token:
            message = record.getMessage()
            if self.token in message:
                record.msg, record.args = message.replace(self.token, "<token>"), ()
        return True


def setup_logging(settings: Settings, process_name: str) -> None:
    """Log to stderr at settings.log_level with the token redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactToken(settings.telegram_bot_token, process_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    logging.getLogger("urllib3").setLevel(logging.WARNING)
