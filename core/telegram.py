"""The only code that touches telebot.apihelper: client factory, error mapping, file download."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TypeVar

import requests
import telebot
import urllib3
from telebot import apihelper
from urllib3.exceptions import NewConnectionError

from core import localfiles, pace
from core.errors import (
    BrokenVideo,
    ChatUnreachable,
    DeliveryInDoubt,
    GifTooBig,
    LocalFileRefused,
    TelegramRetryAfter,
    TooBig,
    TransientError,
)
from core.models import OutputKind
from core.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
DOWNLOAD_CHUNK = 256 * 1024
MAX_RETRY_AFTER_WAIT_S = 60.0  # wait out a 429 in place up to this long; longer ones go back to RQ
# Every way a Bot API call can fail once call() has translated it.
SEND_ERRORS = (TransientError, ChatUnreachable, GifTooBig, apihelper.ApiException)


def configure(settings: Settings) -> None:
    """Point pyTelegramBotAPI at settings.telegram_api_url for methods and files."""
    base = settings.telegram_api_url
    apihelper.API_URL = base + "/bot{0}/{1}"
    apihelper.FILE_URL = base + "/file/bot{0}/{1}"
    apihelper.CONNECT_TIMEOUT = CONNECT_TIMEOUT_S
    apihelper.READ_TIMEOUT = READ_TIMEOUT_S


def drop_connections() -> None:
    """Close this thread's pooled Bot API connections (before a fork: no socket is shared)."""
    apihelper._get_req_session().close()


def build_client(settings: Settings, *, threaded: bool = False) -> telebot.TeleBot:
    """A synchronous TeleBot for this token, talking to settings.telegram_api_url; the token's
    messages keep to settings.telegram_global_rate (core.pace)."""
    configure(settings)
    pace.configure(settings.telegram_global_rate)
    return telebot.TeleBot(settings.telegram_bot_token, threaded=threaded, parse_mode=None)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a failed Bot API call, if it got an answer."""
    if isinstance(exc, apihelper.ApiTelegramException):
        return int(exc.error_code)
    if isinstance(exc, apihelper.ApiHTTPException):
        return int(exc.result.status_code)
    return None


def translate(exc: BaseException, method: str) -> BaseException:
    """Map a pyTelegramBotAPI/requests error to ours, dropping URLs (they hold the token)."""
    status = status_of(exc)
    if status == 429 and isinstance(exc, apihelper.ApiTelegramException):
        params = exc.result_json.get("parameters") or {}
        return TelegramRetryAfter(float(params.get("retry_after", 1)), method)
    if status == 403:
        return ChatUnreachable(f"403 on {method}")
    if status == 413:  # the upload is over the Bot API server's limit: sending it again cannot help
        return GifTooBig(f"413 on {method}")
    if status is not None and (status >= 500 or status in (408, 409, 420)):
        answered = TransientError(f"Telegram answered {status} to {method}")
        answered.status = status
        return answered
    if isinstance(exc, requests.ConnectTimeout) or _never_connected(exc):
        return TransientError(f"network error on {method}: {type(exc).__name__}")
    if isinstance(exc, requests.RequestException | ConnectionError | TimeoutError):
        return DeliveryInDoubt(f"network error on {method} after sending: {type(exc).__name__}")
    if isinstance(exc, apihelper.ApiException):
        return exc  # a 4xx that retrying cannot fix; the caller decides
    return exc


def _never_connected(exc: BaseException) -> bool:
    """True if a request surely never reached the server (refused, no route, name not found)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def call(method: str, fn: Callable[[], T], *, max_wait: float = MAX_RETRY_AFTER_WAIT_S) -> T:
    """Run one Bot API call; wait out 429s (up to max_wait in all), raise our errors otherwise."""
    waited = 0.0
    while True:
        try:
            return fn()
        except (apihelper.ApiException, requests.RequestException) as exc:
            err = translate(exc, method)
            if isinstance(err, TelegramRetryAfter) and waited + err.retry_after <= max_wait:
                log.info("telegram 429 on %s, waiting %.1fs", method, err.retry_after)
                time.sleep(err.retry_after)
                waited += err.retry_after
                continue
            if err is exc:
                raise
            raise err from None


def download(
    bot: telebot.TeleBot,
    file_id: str,
    dest: Path,
    max_bytes: int,
    deadline: float | None = None,
    local: localfiles.LocalFiles | None = None,
) -> int:
    """Download a file by file_id into dest, stopping at max_bytes or at `deadline` (monotonic
    seconds: a total limit, not only per read); returns the size. `local`: a --local server's
    files (TELEGRAM_LOCAL_FILES), whose getFile answers a path on its disk."""
    try:
        info = call("getFile", lambda: bot.get_file(file_id))
    except apihelper.ApiTelegramException as exc:  # a 4xx: the file itself is the problem
        if "too big" in str(exc.description).lower():
            raise TooBig("getFile: file is too big") from None
        raise BrokenVideo(f"getFile refused the file: {exc.error_code}") from None
    if info.file_size and info.file_size > max_bytes:
        raise TooBig(f"getFile says {info.file_size} bytes")
    if PurePosixPath(info.file_path or "").is_absolute():
        return _download_local(info.file_path, local, dest, max_bytes, deadline)
    return _fetch(apihelper.FILE_URL.format(bot.token, info.file_path), dest, max_bytes, deadline)


def _download_local(
    path: str, local: localfiles.LocalFiles | None, dest: Path, max_bytes: int, deadline: float | None
) -> int:
    """A --local server's file: copy it if this box sees it, else fetch it from TELEGRAM_FILE_URL.

    Not readable here and no file server: transient, since a worker on a box that shares the
    server's disk may take the retry. The path (it holds the token) is never logged.
    """
    if local is None:
        raise LocalFileRefused("getFile answered a local path, but TELEGRAM_LOCAL_FILES is off")
    relative = localfiles.confine(path, local.root)
    size = localfiles.copy(local.root, relative, dest, max_bytes, deadline)
    if size is not None:
        return size
    if not local.file_url:
        raise TransientError("the server's file is not readable on this box and TELEGRAM_FILE_URL is unset")
    return _fetch(localfiles.file_url(local.file_url, relative), dest, max_bytes, deadline)


def _fetch(url: str, dest: Path, max_bytes: int, deadline: float | None) -> int:
    """Stream one file over HTTP into dest (the URL may hold the token: never shown)."""
    try:
        session = apihelper._get_req_session()  # getFile's connection, when the file is on its server
        with session.get(url, stream=True, timeout=(CONNECT_TIMEOUT_S, _read_wait(deadline))) as resp:
            if resp.status_code != 200:
                raise TransientError(f"file download answered {resp.status_code}")
            return _save(resp, dest, max_bytes, deadline)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise TransientError(f"file download failed: {type(exc).__name__}") from None


def _read_wait(deadline: float | None) -> float:
    """How long one read may wait: READ_TIMEOUT_S, or less so no read outlasts the deadline."""
    if deadline is None:
        return READ_TIMEOUT_S
    left = deadline - time.monotonic()
    if left <= 0:
        raise TransientError("the download ran past its deadline")
    return min(READ_TIMEOUT_S, left)


def _save(resp: requests.Response, dest: Path, max_bytes: int, deadline: float | None) -> int:
    """Write the body to dest as it arrives (a slow server cannot hold a read past the deadline)."""
    size = 0
    with dest.open("wb") as out:
        while True:
            sock = getattr(resp.raw.connection, "sock", None)
            wait = _read_wait(deadline)
            if sock is not None:
                sock.settimeout(wait)
            chunk = resp.raw.read1(DOWNLOAD_CHUNK, decode_content=True)  # what has come, up to a chunk
            if not chunk:
                return size
            size += len(chunk)
            if size > max_bytes:
                raise TooBig(f"download passed {max_bytes} bytes")
            out.write(chunk)


def send_gif(
    bot: telebot.TeleBot,
    chat_id: int,
    media: str | telebot.types.InputFile,
    output: OutputKind,
    reply_to: int,
    *,
    caption: str | None = None,
    size: tuple[int, int] | None = None,
    timeout: int | None = None,
    reply_markup: telebot.types.InlineKeyboardMarkup | None = None,
) -> telebot.types.Message:
    """Send a GIF (an upload or a file_id) as an inline animation or as a real .gif document, or a
    video sticker (a .webm upload or a file_id) with sendSticker."""
    reply = telebot.types.ReplyParameters(reply_to, allow_sending_without_reply=True)
    if output is OutputKind.STICKER:
        return bot.send_sticker(
            chat_id, media, reply_parameters=reply, timeout=timeout, reply_markup=reply_markup
        )
    if output is OutputKind.DOCUMENT:
        return bot.send_document(
            chat_id,
            media,
            caption=caption,
            reply_parameters=reply,
            disable_content_type_detection=True,
            timeout=timeout,
            reply_markup=reply_markup,
        )
    width, height = size or (None, None)
    return bot.send_animation(
        chat_id,
        media,
        width=width,
        height=height,
        caption=caption,
        reply_parameters=reply,
        timeout=timeout,
        reply_markup=reply_markup,
    )
