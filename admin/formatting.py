"""Template filters: sizes in MB, durations, UTC times and ages, one way everywhere."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Flask

NOTHING = "—"
BYTES_PER_MB = 1024 * 1024


def init_app(app: Flask) -> None:
    """Register the filters with Jinja."""
    app.jinja_env.filters.update(mb=mb, seconds=seconds, utc=utc, ago=ago)


def mb(size: int | None) -> str:
    """Bytes as megabytes with two decimals."""
    return NOTHING if size is None else f"{size / BYTES_PER_MB:.2f}"


def seconds(value: float | None) -> str:
    """A duration in seconds, one decimal."""
    return NOTHING if value is None else f"{value:.1f} s"


def utc(ts: float | datetime | None, seconds: bool = False) -> str:
    """A unix time (or datetime) as 'YYYY-MM-DD HH:MM UTC' (with ':SS' if `seconds`)."""
    if not ts:
        return NOTHING
    moment = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def ago(ts: float | datetime | None, now: float | None = None) -> str:
    """How long ago a unix time (or datetime) was, roughly."""
    if not ts:
        return NOTHING
    then = ts.timestamp() if isinstance(ts, datetime) else ts
    delta = max(0, int((time.time() if now is None else now) - then))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if delta >= size:
            return f"{delta // size} {unit} ago"
    return f"{delta} s ago"
