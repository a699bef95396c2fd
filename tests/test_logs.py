"""Logs: one logfmt line per event, tracebacks folded in, the token and admin password never shown."""

from __future__ import annotations

import logging
import sys

from core.logs import OneLine

TOKEN = "123456:SECRETsecretSECRET"


def record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"boom at https://api.telegram.org/bot{TOKEN}/getFile")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.LogRecord("jobs.convert", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_every_event_is_one_line_with_its_fields():
    """A record renders as a single logfmt line with level, process and message."""
    line = OneLine("worker").format(record('job=%s user=%s said "hi"\nbye', "gif_1_2", 7))
    assert "\n" not in line
    assert "level=warning proc=worker" in line and "logger=jobs.convert" in line
    assert 'msg="job=gif_1_2 user=7 said \\"hi\\"\\nbye"' in line


def test_token_is_redacted_even_inside_a_traceback():
    """A URL with the token inside an exception is logged without the token, still on one line."""
    line = OneLine("bot", (TOKEN,)).format(record("download failed", exc=True))
    assert TOKEN not in line and "<redacted>" in line
    assert "\n" not in line and "RuntimeError" in line
