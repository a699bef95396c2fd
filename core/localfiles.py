"""Files of a self-hosted telegram-bot-api server in --local mode: kept inside TELEGRAM_LOCAL_DIR.

getFile then answers an absolute path on the server's disk (up to 2 GB) instead of a download
URL. A worker that sees that disk (same box, shared mount) copies the file; one that does not
fetches it from TELEGRAM_FILE_URL, a plain web server over the same directory. Either way the
path must lie inside TELEGRAM_LOCAL_DIR once symlinks and `..` are resolved.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from core.errors import LocalFileRefused, TooBig, TransientError

if TYPE_CHECKING:
    from core.settings import Settings

CLOUD_MAX_INPUT_MB = 20  # the cloud Bot API lets a bot download at most this much
LOCAL_MAX_INPUT_MB = 2000  # a --local telegram-bot-api server: 2 GB
COPY_CHUNK = 1024 * 1024
# Open read-only, never through a symlink at the last step, never blocking on a FIFO.
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True)
class LocalFiles:
    """Where a --local server's files may be: `root` (TELEGRAM_LOCAL_DIR), `file_url` ("" if none)."""

    root: str
    file_url: str = ""


def from_settings(settings: Settings) -> LocalFiles | None:
    """The local-file rules of these settings; None when TELEGRAM_LOCAL_FILES is off."""
    if not settings.telegram_local_files:
        return None
    return LocalFiles(settings.telegram_local_dir, settings.telegram_file_url)


def parse_local_dir(raw: str) -> str:
    """TELEGRAM_LOCAL_DIR: an absolute directory, and not / (that would confine nothing)."""
    if not raw.startswith("/"):
        raise ValueError("must be an absolute path (the telegram-bot-api server's --dir)")
    if os.path.normpath(raw) == "/":
        raise ValueError("must be the telegram-bot-api server's working directory, not /")
    return os.path.normpath(raw)


def input_size_problems(values: dict[str, Any]) -> list[str]:
    """Check MAX_INPUT_MB and TELEGRAM_LOCAL_DIR against TELEGRAM_LOCAL_FILES (parsed `values`).

    Without local files a MAX_INPUT_MB above 20 counts as 20, the cloud's download limit (an
    older install may have set more: it keeps starting, and the bot refuses at once what the
    cloud would refuse later). With them it may go up to 2000, and TELEGRAM_LOCAL_DIR is required.
    """
    if not values.get("telegram_local_files"):
        if values.get("max_input_mb", 0) > CLOUD_MAX_INPUT_MB:
            values["max_input_mb"] = CLOUD_MAX_INPUT_MB
        return []
    problems = []
    if "telegram_local_dir" not in values:
        problems.append(
            "TELEGRAM_LOCAL_DIR is required when TELEGRAM_LOCAL_FILES is on "
            "(the telegram-bot-api server's --dir, e.g. /var/lib/telegram-bot-api)"
        )
    if values.get("max_input_mb", 0) > LOCAL_MAX_INPUT_MB:
        problems.append(f"MAX_INPUT_MB={values['max_input_mb']} is above {LOCAL_MAX_INPUT_MB} (2 GB)")
    return problems


def confine(file_path: str, root: str) -> str:
    """The path of `file_path` relative to TELEGRAM_LOCAL_DIR, symlinks and `..` resolved.

    Raises LocalFileRefused if it points anywhere else (another directory, a symlink out).
    """
    try:
        real_root = os.path.realpath(root)
        real = os.path.realpath(file_path)
    except (ValueError, OSError):  # a NUL byte, a symlink loop
        raise LocalFileRefused("getFile's path cannot be resolved") from None
    if real == real_root or os.path.commonpath([real_root, real]) != real_root:
        raise LocalFileRefused("getFile's path is outside TELEGRAM_LOCAL_DIR")
    return os.path.relpath(real, real_root)


def copy(root: str, relative: str, dest: Path, max_bytes: int, deadline: float | None) -> int | None:
    """Copy the server's file (read-only) to dest, within max_bytes and the deadline; its size.

    None if this box cannot read it (not there, no permission): fetch it another way.
    """
    try:
        fd = os.open(os.path.join(os.path.realpath(root), relative), OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    except OSError as exc:  # ELOOP: the last step became a symlink after confine() looked
        raise LocalFileRefused(f"cannot open the server's file: {type(exc).__name__}") from None
    with os.fdopen(fd, "rb", buffering=0) as src:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LocalFileRefused("getFile's path is not a regular file")
        if info.st_size > max_bytes:
            raise TooBig(f"the server's file has {info.st_size} bytes")
        return _copy_stream(src, dest, max_bytes, deadline)


def _copy_stream(src: Any, dest: Path, max_bytes: int, deadline: float | None) -> int:
    """Write src to dest chunk by chunk, stopping past max_bytes (a growing file) or the deadline."""
    size = 0
    with dest.open("wb") as out:
        while chunk := src.read(COPY_CHUNK):
            if deadline is not None and time.monotonic() > deadline:
                raise TransientError("the copy ran past its deadline")
            size += len(chunk)
            if size > max_bytes:
                raise TooBig(f"the copy passed {max_bytes} bytes")
            out.write(chunk)
    return size


def file_url(base: str, relative: str) -> str:
    """`<TELEGRAM_FILE_URL>/<relative path>`, each segment URL-quoted (the token holds a ':')."""
    return base.rstrip("/") + "/" + "/".join(quote(part, safe="") for part in relative.split(os.sep))
