"""Logging shared by every process: one logfmt line per event, never a secret (the bot token, the
admin password, the Redis passwords)."""

from __future__ import annotations

import logging
import sys
import time

from core.redis_url import passwords_in
from core.settings import Settings


class OneLine(logging.Formatter):
    """`ts=… level=… proc=… logger=… msg="…"`, tracebacks folded into the same line."""

    def __init__(self, process_name: str, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.process_name = process_name
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += " | " + self.formatException(record.exc_info)
        for secret in self.secrets:
            message = message.replace(secret, "<redacted>")
        message = message.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        return (
            f"ts={ts} level={record.levelname.lower()} proc={self.process_name} pid={record.process} "
            f'logger={record.name} msg="{message}"'
        )


def setup_logging(settings: Settings, process_name: str) -> None:
    """Log to stderr at settings.log_level, one line per event, secrets redacted."""
    handler = logging.StreamHandler(sys.stderr)
    secrets = (settings.telegram_bot_token, settings.admin_password, *passwords_in(settings.redis_url))
    handler.setFormatter(OneLine(process_name, secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    logging.getLogger("urllib3").setLevel(logging.WARNING)
