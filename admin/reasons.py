"""Why a job failed or a video was refused, in words an admin understands: the one mapping from the
reason keys the bot and workers record (core.errors text keys and a few plain names) to those words."""

from __future__ import annotations

from flask import Flask

ADMIN_WORDS: dict[str, str] = {
    # Ended by the worker: a UserFacingError's text key (core/errors.py) or a plain name.
    "error_generic": "could not convert",
    "error_failed": "failed after every retry (network, Telegram or a worker)",
    "error_not_video": "not a video",
    "error_broken": "broken or incomplete video",
    "error_too_big": "file too big",
    "error_too_large": "picture too large (over 4K)",
    "error_timeout": "took too long to convert",
    "error_gif_too_big": "GIF too big for Telegram: still too big shrunk, or Telegram refused the upload",
    "error_too_much_memory": "needs more memory than a conversion may take",
    "error_audio_only": "sound only, no picture",
    "error_encrypted": "encrypted (DRM)",
    "error_codec": "video format not supported",
    "error_trim": "unreadable or out-of-range trim",
    "error_local_file": "Bot API server's file path outside TELEGRAM_LOCAL_DIR (or local files off)",
    "blocked": "the user blocked the bot",
    "cancelled": "cancelled by the user",
    "job_deleted": "deleted in the RQ dashboard",
    "text_gone": "its /text words expired before the job ran",
    # Refused by the bot before any job (core.stats.record_refused).
    "too_big": "file too big",
    "banned": "user is banned",
    "bad_trim": "unreadable or out-of-range trim",
    "quota": "over the hourly quota",
    "text_too_long": "/text words too long",
    "text_usage": "/text without words",
}


def init_app(app: Flask) -> None:
    """Give templates the `reason` filter."""
    app.jinja_env.filters["reason"] = words


def words(key: str | None) -> str:
    """The admin's words for a reason key; an unknown key is shown as itself, marked so."""
    if not key:
        return ""
    return ADMIN_WORDS.get(key, f"other ({key})")
