"""The one reader of the environment: every setting, typed, checked once at start."""

from __future__ import annotations

import io
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from core.localfiles import input_size_problems, parse_local_dir
from core.redis_url import parse_sentinel_url

DEFAULT_API_URL = "https://api.telegram.org"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{10,}$")
ENV_FILE_NAME = ".env"
DEFAULT_TMP_DIR = Path("var", "tmp")


class SettingsError(SystemExit):
    """Raised at start with one message that names every bad or missing setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"Configuration problem(s):\n{lines}\nSet them in the environment or in .env.")


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be zero or more")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("must be a positive number")
    return value


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0:
        raise ValueError("must be zero or more")
    return value


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not raw.startswith(tuple(f"{s}://" for s in schemes)):
            raise ValueError(f"must start with {' or '.join(s + '://' for s in schemes)}")
        return raw.rstrip("/")

    return parse


def _redis_url(raw: str) -> str:
    url = _url(("redis", "rediss", "unix", "redis+sentinel"))(raw)
    if url.startswith("redis+sentinel://"):
        parse_sentinel_url(url)
    return url


def _token(raw: str) -> str:
    if not TOKEN_PATTERN.match(raw):
        raise ValueError("does not look like a bot token from @BotFather (digits:letters)")
    return raw


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError("must be a port number 1-65535")
    return value


def _bot_mode(raw: str) -> str:
    if raw not in ("polling", "webhook"):
        raise ValueError("must be polling or webhook")
    return raw


def _webhook_secret(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", raw):
        raise ValueError("must be 16-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
    return raw


def _networks(raw: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or CIDR networks, normalised (e.g. "10.0.0.0/8, ::1")."""
    found = []
    for item in (part.strip() for part in raw.split(",")):
        if item:
            try:
                found.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
    return tuple(found)


def _chat_ids(raw: str) -> tuple[int, ...]:
    """Comma-separated Telegram chat ids (a group's is negative), e.g. "12345, -100987654321"."""
    found = []
    for item in (part.strip() for part in raw.split(",")):
        if item:
            if not re.fullmatch(r"-?\d{1,20}", item):
                raise ValueError(f"{item!r} is not a Telegram chat id (a whole number)")
            found.append(int(item))
    return tuple(found)


def _flag(raw: str) -> bool:
    if raw.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ValueError("must be true or false")
    return raw.lower() in ("true", "1", "yes", "on")


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= 1:
        raise ValueError("must be a number above 0 and at most 1")
    return value


def _setting(default: Any, env: str, parse: Callable[[str], Any] = str, *, secret: bool = False) -> Any:
    return field(default=default, repr=not secret, metadata={"env": env, "parse": parse, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """Every knob of the bot, the workers and the admin panel; see README's settings table."""

    telegram_bot_token: str = _setting("", "TELEGRAM_BOT_TOKEN", _token, secret=True)
    telegram_api_url: str = _setting(DEFAULT_API_URL, "TELEGRAM_API_URL", _url(("http", "https")))
    telegram_local_files: bool = _setting(False, "TELEGRAM_LOCAL_FILES", _flag)
    telegram_local_dir: str = _setting("", "TELEGRAM_LOCAL_DIR", parse_local_dir)
    telegram_file_url: str = _setting("", "TELEGRAM_FILE_URL", _url(("http", "https")), secret=True)
    telegram_global_rate: float = _setting(26.0, "TELEGRAM_GLOBAL_RATE", _non_negative_float)
    redis_url: str = _setting(DEFAULT_REDIS_URL, "REDIS_URL", _redis_url, secret=True)
    retry_max: int = _setting(3, "RETRY_MAX", _non_negative_int)
    retry_interval: int = _setting(60, "RETRY_INTERVAL", _non_negative_int)
    workers: int = _setting(2, "WORKERS", _positive_int)
    admin_username: str = _setting("admin", "ADMIN_USERNAME")
    admin_password: str = _setting("", "ADMIN_PASSWORD", secret=True)
    admin_host: str = _setting("127.0.0.1", "ADMIN_HOST")
    admin_port: int = _setting(5000, "ADMIN_PORT", _port)
    admin_trusted_proxies: tuple[str, ...] = _setting((), "ADMIN_TRUSTED_PROXIES", _networks)
    max_input_mb: int = _setting(20, "MAX_INPUT_MB", _positive_int)
    max_output_mb: int = _setting(50, "MAX_OUTPUT_MB", _positive_int)
    max_seconds: float = _setting(30.0, "MAX_SECONDS", _positive_float)
    gif_width: int = _setting(480, "GIF_WIDTH", _positive_int)
    gif_fps: int = _setting(12, "GIF_FPS", _positive_int)
    job_timeout: int = _setting(300, "JOB_TIMEOUT", _positive_int)
    convert_timeout: int = _setting(240, "CONVERT_TIMEOUT", _positive_int)
    max_pixels: int = _setting(3840 * 2160, "MAX_PIXELS", _positive_int)
    tmp_dir: str = _setting("", "GIFBOT_TMP_DIR")
    min_free_disk_mb: int = _setting(500, "MIN_FREE_DISK_MB", _non_negative_int)
    queue_name: str = _setting("gifs", "QUEUE_NAME")
    bot_mode: str = _setting("polling", "BOT_MODE", _bot_mode)
    log_level: str = _setting("INFO", "LOG_LEVEL")
    worker_name: str = _setting("", "WORKER_NAME")
    max_active_per_user: int = _setting(3, "MAX_ACTIVE_PER_USER", _positive_int)
    max_pending_per_user: int = _setting(20, "MAX_PENDING_PER_USER", _non_negative_int)
    hourly_quota: int = _setting(30, "HOURLY_QUOTA", _positive_int)
    user_data_days: float = _setting(90.0, "USER_DATA_DAYS", _positive_float)
    admin_chat_ids: tuple[int, ...] = _setting((), "ADMIN_CHAT_IDS", _chat_ids)
    alert_window_s: int = _setting(900, "ALERT_WINDOW_S", _positive_int)
    alert_failure_rate: float = _setting(0.5, "ALERT_FAILURE_RATE", _fraction)
    alert_failure_min: int = _setting(10, "ALERT_FAILURE_MIN", _positive_int)
    alert_queue_wait_s: int = _setting(300, "ALERT_QUEUE_WAIT_S", _positive_int)
    webhook_url: str = _setting("", "WEBHOOK_URL", _url(("https", "http")))
    webhook_secret: str = _setting("", "WEBHOOK_SECRET", _webhook_secret, secret=True)
    webhook_host: str = _setting("127.0.0.1", "WEBHOOK_HOST")
    webhook_port: int = _setting(8443, "WEBHOOK_PORT", _port)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        require: tuple[str, ...] = (),
        env_file: Path | None = None,
    ) -> Settings:
        """Read every setting from `environ` (default os.environ, over an optional .env).

        `require` names settings (by env name) this process cannot run without. Raises
        SettingsError naming every problem at once.
        """
        source = dict(read_env_file(env_file or Path.cwd() / ENV_FILE_NAME))
        source.update(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in fields(cls):
            name, parse = f.metadata["env"], f.metadata.get("parse", str)
            raw = source.get(name, "").strip()
            if not raw:
                if name in require:
                    problems.append(f"{name} is required but not set")
                continue
            try:
                values[f.name] = parse(raw)
            except ValueError as exc:
                shown = "(hidden)" if f.metadata.get("secret") else repr(raw[:40])
                reason = "is not a number" if "invalid literal" in str(exc) else str(exc)
                problems.append(f"{name}={shown} {reason}")
        if values.get("bot_mode") == "webhook":
            problems += [
                f"{name} is required when BOT_MODE=webhook"
                for name, key in (("WEBHOOK_URL", "webhook_url"), ("WEBHOOK_SECRET", "webhook_secret"))
                if key not in values
            ]
        problems += input_size_problems(values)  # may lower max_input_mb to the cloud's 20
        if problems:
            raise SettingsError(problems)
        return cls(**values)

    @property
    def tmp_root(self) -> Path:
        """Directory under which every job makes its own temp dir: GIFBOT_TMP_DIR, else var/tmp
        under the directory the process started in (the repo root under supervisord), never a
        name in the shared system temp dir that another local user could make first."""
        return Path(self.tmp_dir) if self.tmp_dir else Path.cwd() / DEFAULT_TMP_DIR

    @property
    def user_data_ttl_s(self) -> int:
        """Seconds a user's profile, settings and counters outlive their last activity."""
        return max(1, round(self.user_data_days * 24 * 3600))

    @property
    def max_input_bytes(self) -> int:
        return self.max_input_mb * 1024 * 1024

    @property
    def max_output_bytes(self) -> int:
        return self.max_output_mb * 1024 * 1024


def read_env_file(path: Path) -> dict[str, str]:
    """Read a .env file as python-dotenv does, never expanding $VAR; a missing file is empty.

    `KEY=value # note` drops the note; quotes keep `#` and spaces; a bare `KEY` counts as unset.
    A line python-dotenv cannot parse raises SettingsError naming it, rather than losing a setting.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return {}
    bad = [binding.original.line for binding in parse_stream(io.StringIO(text)) if binding.error]
    if bad:
        raise SettingsError(
            [f"{path.name} line {line} is not KEY=VALUE (an unclosed quote, or stray text?)" for line in bad]
        )
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return {key: value for key, value in values.items() if value is not None}
