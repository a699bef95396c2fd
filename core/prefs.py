"""Per-user GIF settings (/settings), stored in Redis, chosen only from fixed menus."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from redis import Redis

from core import keys, retention
from core.models import OutputKind
from core.settings import Settings

# Every value a setting may take (the bot's menu offers these; stored values outside them are ignored).
# Lengths are offered only up to the install's MAX_SECONDS (choices()), so no user goes past it.
LENGTHS: tuple[str, ...] = ("5", "10", "15", "20", "30")
CHOICES: dict[str, tuple[str, ...]] = {
    "width": ("320", "480", "640"),
    "fps": ("10", "12", "15", "20"),
    "max_seconds": LENGTHS,
    "speed": ("0.5", "1", "1.5", "2"),
    "reverse": ("0", "1"),
    "output": (OutputKind.ANIMATION.value, OutputKind.DOCUMENT.value, OutputKind.STICKER.value),
    "crop": ("0", "1"),
    "square": ("0", "1"),
}


@dataclass(frozen=True)
class UserPrefs:
    """How one user wants their GIFs."""

    width: int = 480
    fps: int = 12
    max_seconds: float = 30.0
    speed: float = 1.0
    reverse: bool = False
    output: OutputKind = OutputKind.ANIMATION
    crop: bool = False  # remove black bars
    square: bool = False  # centre-crop to a square

    @classmethod
    def defaults(cls, settings: Settings) -> UserPrefs:
        """The bot-wide defaults from settings."""
        return cls(width=settings.gif_width, fps=settings.gif_fps, max_seconds=settings.max_seconds)

    def with_choice(self, name: str, value: str) -> UserPrefs:
        """A copy with one menu choice applied (name and value already validated)."""
        kind = {f.name: f.type for f in fields(self)}[name]
        parsed: object = {
            "int": int,
            "float": float,
            "bool": lambda v: v == "1",
            "OutputKind": OutputKind,
        }[kind](value)
        return replace(self, **{name: parsed})

    def cache_key(self) -> str:
        """A stable string of everything that changes the GIF's bytes or how it is sent."""
        shape = f"w{self.width}f{self.fps}s{self.max_seconds:g}x{self.speed:g}"
        framing = ("c1" if self.crop else "") + ("q1" if self.square else "")  # off: the old keys
        return f"{shape}r{int(self.reverse)}{self.output[0]}{framing}"


def choices(settings: Settings) -> dict[str, tuple[str, ...]]:
    """The menus of this install: CHOICES with the lengths up to MAX_SECONDS (and MAX_SECONDS itself
    when it is not on the list, e.g. 25 or 3), so the longest length offered is the default."""
    cap = settings.max_seconds
    lengths = [v for v in LENGTHS if float(v) < cap] + [f"{cap:g}"]
    return {**CHOICES, "max_seconds": tuple(lengths)}


def load(redis: Redis, user_id: int, settings: Settings) -> UserPrefs:
    """A user's settings over the defaults (unknown or stale stored values are ignored, and so is a
    stored length above this install's MAX_SECONDS)."""
    prefs, menus = UserPrefs.defaults(settings), choices(settings)
    for raw_name, raw_value in redis.hgetall(keys.prefs(user_id)).items():
        name, value = raw_name.decode(), raw_value.decode()
        if value in menus.get(name, ()):
            prefs = prefs.with_choice(name, value)
    return prefs


def save_choice(
    redis: Redis, user_id: int, name: str, value: str, ttl_s: int = retention.USER_DATA_TTL_S
) -> None:
    """Store one validated menu choice; the user's data lives `ttl_s` more (retention.refresh)."""
    with redis.pipeline() as pipe:
        pipe.hset(keys.prefs(user_id), name, value)
        retention.refresh(pipe, user_id, ttl_s)
        pipe.execute()


def as_dict(prefs: UserPrefs) -> dict[str, object]:
    return asdict(prefs)
