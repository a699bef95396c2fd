"""Logs: one logfmt line per event, tracebacks folded in, the token, admin and Redis passwords never shown."""

from __future__ import annotations

import logging
import sys

from core.logs import OneLine, setup_logging
from core.redis_url import passwords_in
from core.settings import Settings

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


def test_redis_passwords_in_the_url_are_redacted_as_written_and_decoded(capsys):
    """setup_logging hides the Redis password (percent-encoded or not) and a Sentinel's, next to the token."""
    settings = Settings(
        telegram_bot_token=TOKEN,
        admin_password="admin-pw-1",
        redis_url="redis+sentinel://:r%40dis-pw@127.0.0.1:26379/gifbot?sentinel_password=sent-pw-2",
    )
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(settings, "worker")
        logging.getLogger("core.connection").error(
            "lost %s, %s, %s, %s, %s", settings.redis_url, "r@dis-pw", TOKEN, "admin-pw-1", "sent-pw-2"
        )
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = capsys.readouterr().err
    assert "lost redis+sentinel://:<redacted>@127.0.0.1:26379/gifbot?sentinel_password=<redacted>" in line
    assert not any(s in line for s in ("dis-pw", "sent-pw", "admin-pw", TOKEN)), line
    assert passwords_in("redis://127.0.0.1:6379/0") == ()
