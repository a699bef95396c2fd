"""Finished GIFs by source video and settings: a repeat is answered by re-sending Telegram's file_id."""

from __future__ import annotations

import json
from dataclasses import dataclass

from redis import Redis

from core import keys
from core.models import OutputKind

CACHE_TTL_S = 30 * 24 * 3600


@dataclass(frozen=True)
class CachedGif:
    """A GIF Telegram already stores: send it again by file_id, no conversion."""

    file_id: str
    output: OutputKind
    size_bytes: int = 0
    seconds: float = 0.0  # of the video it covers (0: unknown, cached by an older version)
    more: bool = False  # the video goes on past it (core.redo.goes_on)


def get(redis: Redis, file_unique_id: str, variant: str) -> CachedGif | None:
    """The cached GIF for this video and settings variant, if any."""
    raw = redis.get(keys.cache(file_unique_id, variant))
    if raw is None:
        return None
    data = json.loads(raw)
    return CachedGif(
        str(data["file_id"]),
        OutputKind(data["output"]),
        int(data.get("size_bytes", 0)),
        float(data.get("seconds", 0.0)),
        bool(data.get("more", False)),
    )


def put(redis: Redis, file_unique_id: str, variant: str, gif: CachedGif) -> None:
    """Remember a delivered GIF's Telegram file_id."""
    payload = {
        "file_id": gif.file_id,
        "output": gif.output.value,
        "size_bytes": gif.size_bytes,
        "seconds": gif.seconds,
        "more": gif.more,
    }
    redis.set(keys.cache(file_unique_id, variant), json.dumps(payload), ex=CACHE_TTL_S)
