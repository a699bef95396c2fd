"""What the tweak-and-redo buttons under a GIF need to make it again, kept REDO_TTL_S in Redis.

Written when a GIF is delivered (by the worker, or by the bot for a GIF from the cache), keyed by
the chat and the GIF's message id: a button's callback data names only the tweak ("redo:s") and the
press brings the GIF's message. Each user's records are listed in keys.user_redos, so /forget
finds them in any chat. No video is kept: only its Telegram file id, to download it again.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields

from redis import Redis

from core import keys
from core.models import ConversionRequest, MediaKind, OutputKind

REDO_TTL_S = 7 * 24 * 3600  # the buttons under a GIF work this long (said in /privacy)
WINDOW_SLACK_S = 0.05  # a GIF this close to its trim window's length ran to the window's end


@dataclass(frozen=True)
class GifRecipe:
    """How one delivered GIF was made: its video (by Telegram file id), who asked, the settings and
    trim window used, how many seconds of the video it covers, and whether the video goes on."""

    user_id: int
    lang: str
    file_id: str
    file_unique_id: str
    file_size: int
    kind: MediaKind
    width: int
    fps: int
    max_seconds: float
    start: float
    end: float | None
    speed: float
    reverse: bool
    output: OutputKind
    seconds: float  # of the video (before the speed change)
    more: bool  # the video goes on past the GIF: a longer one can be made
    crop: bool = False  # black bars cut (absent from recipes kept before this setting: off)
    square: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", MediaKind(self.kind))  # a str from JSON becomes the enum
        object.__setattr__(self, "output", OutputKind(self.output))

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "kind": self.kind.value, "output": self.output.value})

    @classmethod
    def from_json(cls, raw: bytes | str) -> GifRecipe:
        """Rebuild a stored recipe, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(raw).items() if k in known})


def recipe_of(request: ConversionRequest, seconds: float, more: bool) -> GifRecipe:
    """The recipe of the GIF a request made, covering `seconds` of the video."""
    return GifRecipe(
        user_id=request.user_id,
        lang=request.lang,
        file_id=request.file_id,
        file_unique_id=request.file_unique_id,
        file_size=request.file_size,
        kind=request.kind,
        width=request.width,
        fps=request.fps,
        max_seconds=request.max_seconds,
        start=request.start,
        end=request.end,
        speed=request.speed,
        reverse=request.reverse,
        output=request.output,
        seconds=round(seconds, 2),
        more=more,
        crop=request.crop,
        square=request.square,
    )


def goes_on(request: ConversionRequest, seconds: float, truncated: bool) -> bool:
    """True if the video goes on past a GIF of `seconds` (cut at the length cap, or it filled its
    trim window, which may end before the video does)."""
    window = None if request.end is None else request.end - request.start
    return truncated or (window is not None and seconds >= window - WINDOW_SLACK_S)


def save(redis: Redis, chat_id: int, message_id: int, recipe: GifRecipe, ttl_s: int = REDO_TTL_S) -> None:
    """Keep a delivered GIF's recipe for its buttons, listed under its user for /forget."""
    key, now = keys.redo(chat_id, message_id), time.time()
    with redis.pipeline() as pipe:
        pipe.set(key, recipe.to_json(), ex=ttl_s)
        pipe.zadd(keys.user_redos(recipe.user_id), {key: now + ttl_s})
        pipe.zremrangebyscore(keys.user_redos(recipe.user_id), "-inf", now)  # expired records
        pipe.expire(keys.user_redos(recipe.user_id), ttl_s)
        pipe.execute()


def load(redis: Redis, chat_id: int, message_id: int) -> GifRecipe | None:
    """The recipe of the GIF in this message; None if there is none (expired, or no GIF of ours)."""
    raw = redis.get(keys.redo(chat_id, message_id))
    return None if raw is None else GifRecipe.from_json(raw)


def user_record_keys(redis: Redis, user_id: int) -> list[str]:
    """Every redo key of this user (for /forget), the list itself included."""
    listed = [raw.decode() for raw in redis.zrange(keys.user_redos(user_id), 0, -1)]
    return [*listed, keys.user_redos(user_id)]


def delivered(request: ConversionRequest, duration: float, truncated: bool) -> GifRecipe:
    """The recipe of a GIF that plays `duration` seconds (after the speed change), cut or not."""
    seconds = duration * request.speed
    return recipe_of(request, seconds, goes_on(request, seconds, truncated))
