"""gunicorn's own log lines (start, worker boots, errors, access) through our root handler.

`--logger-class core.gunicorn_logs.OneLineLogs`: one logfmt line per event, secrets redacted, like
every other process (core.logs.setup_logging must have run: the admin factory and the webhook do).
"""

from __future__ import annotations

from typing import Any

from gunicorn import glogging


class OneLineLogs(glogging.Logger):
    """gunicorn's error and access loggers propagate to the root handler instead of their own."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True
