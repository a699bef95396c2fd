"""Logs: one logfmt line per event, tracebacks folded in, the token, admin and Redis passwords never shown."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

import requests

from core.logs import OneLine, setup_logging
from core.redis_url import passwords_in
from core.settings import Settings
from tests.services import free_port, wait_until

TOKEN = "123456:SECRETsecretSECRET"

GUNICORN_STOP_S = 30  # supervisord.conf's --graceful-timeout (15 s) and a margin


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


def test_admin_panel_under_gunicorn_logs_one_redacted_line_per_event(tmp_path):
    """The admin panel as supervisord runs it: gunicorn's boot, access and error lines are our logfmt
    lines, and a Redis password in REDIS_URL never appears, even when Redis is away."""
    port, dead_redis = free_port(), free_port()
    password = "hunter2-admin-redis-secret"
    conf = Path(__file__).resolve().parents[1] / "supervisord.conf"
    [command] = [x for x in conf.read_text().splitlines() if x.startswith("command=python -m gunicorn")]
    address = "%(ENV_ADMIN_HOST)s:%(ENV_ADMIN_PORT)s"
    bind = command.removeprefix("command=").replace(address, f"127.0.0.1:{port}")
    argv = [sys.executable, *shlex.split(bind)[1:]]
    env = {
        **os.environ,
        "REDIS_URL": f"redis://:{password}@127.0.0.1:{dead_redis}/0",
        "ADMIN_PASSWORD": "panel-password-not-logged",
        "TELEGRAM_BOT_TOKEN": TOKEN,
    }
    out = tmp_path / "admin.log"
    with out.open("wb") as sink:
        server = subprocess.Popen(argv, cwd=conf.parent, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/healthz"
            wait_until(lambda: _answers(url), 30, what="gunicorn serving the admin panel")
            wait_until(lambda: "/healthz" in out.read_text() and "Redis" in out.read_text(), 10, what="logs")
        finally:
            server.terminate()
            try:  # gunicorn gives a worker in the middle of a request up to --graceful-timeout
                server.wait(GUNICORN_STOP_S)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
                log = out.read_text()
                raise AssertionError(f"gunicorn still up {GUNICORN_STOP_S} s after SIGTERM:\n{log}") from None
    lines = [line for line in out.read_text().splitlines() if line.strip()]
    assert lines and all(line.startswith("ts=") and "proc=admin" in line for line in lines), lines
    assert not any(secret in out.read_text() for secret in (password, "panel-password-not-logged", TOKEN))


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code in (200, 503)
    except requests.RequestException:
        return False
