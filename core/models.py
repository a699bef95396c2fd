"""Plain values that cross module and process boundaries: frozen dataclasses and str enums."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any


class MediaKind(StrEnum):
    """Which Telegram field the video arrived in."""

    VIDEO = "video"
    ANIMATION = "animation"
    VIDEO_NOTE = "video_note"
    DOCUMENT = "document"


class OutputKind(StrEnum):
    """How the GIF is sent: inline animation (Telegram stores MP4), a real .gif file, or a video
    sticker (a WebM VP9 of at most 3 s, sent with sendSticker)."""

    ANIMATION = "animation"
    DOCUMENT = "document"
    STICKER = "sticker"


class Outcome(StrEnum):
    """How one video ended, as the stats and the admin panel count it."""

    DELIVERED = "delivered"
    FAILED = "failed"
    REFUSED = "refused"


@dataclass(frozen=True)
class ConversionRequest:
    """Everything a worker needs to turn one Telegram video into a GIF: ids and numbers only."""

    chat_id: int
    user_id: int
    message_id: int
    status_message_id: int
    file_id: str
    file_unique_id: str
    file_size: int
    kind: MediaKind
    lang: str
    width: int
    fps: int
    max_seconds: float
    start: float = 0.0
    end: float | None = None
    speed: float = 1.0
    reverse: bool = False
    output: OutputKind = OutputKind.ANIMATION
    variant: str = ""  # settings + trim, for the cache of finished GIFs
    reply_to: int = 0  # the message holding the video when a command (/gif in reply) asked; 0: message_id
    has_text: bool = False  # words to draw wait in Redis under the job id (core.memetext), never here
    redo: str = ""  # the tweak button pressed under the GIF in message_id (core.tweaks); "" for a video
    crop: bool = False  # remove black bars (letterbox, pillarbox) found by cropdetect
    square: bool = False  # centre-crop to a square

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", MediaKind(self.kind))  # a str from JSON becomes the enum
        object.__setattr__(self, "output", OutputKind(self.output))

    @property
    def job_id(self) -> str:
        """Deterministic id from the Telegram message (and the redo button): a re-delivered update, or
        a second tap of one button under one GIF, maps to the same job."""
        return job_id_for(self.chat_id, self.message_id, self.redo)

    @property
    def reply_target(self) -> int:
        """The message the GIF and final messages reply to: the video's, not the command's."""
        return self.reply_to or self.message_id

    def to_kwargs(self) -> dict[str, Any]:
        """The job's keyword arguments (JSON-safe: the enums are str)."""
        return {**asdict(self), "kind": self.kind.value, "output": self.output.value}

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> ConversionRequest:
        """Rebuild from a job's kwargs, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in kwargs.items() if k in known})


@dataclass(frozen=True)
class ConversionResult:
    """What a finished conversion hands to the on_success callback (RQ stores it as JSON).

    `already_sent` marks a re-run that found this job's GIF delivered: there is nothing to send.
    """

    gif: str = ""  # file name inside the attempt's temp dir, never a path
    workdir: str = ""  # the attempt's temp dir name under the worker's temp root
    size_in: int = 0
    size_bytes: int = 0
    width: int = 0
    height: int = 0
    duration: float = 0.0
    truncated: bool = False
    shrunk: bool = False
    convert_seconds: float = 0.0
    already_sent: bool = False

    def to_json(self) -> dict[str, Any]:
        """The job's return value as RQ's JSON serializer stores it."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ConversionResult:
        """Rebuild from a stored return value, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


def job_id_for(chat_id: int, message_id: int, redo: str = "") -> str:
    """The RQ job id for the video in message `message_id` of chat `chat_id`; with `redo` (a letter
    code of core.tweaks), for that tweak of the GIF in message `message_id`."""
    return f"gif_{chat_id}_{message_id}" + (f"_{redo}" if redo else "")


def parse_job_id(job_id: str) -> tuple[int, int, str] | None:
    """(chat_id, message_id, redo) of a job id made by job_id_for; None for any other id."""
    prefix, _, rest = job_id.partition("_")
    parts = rest.split("_")
    if prefix != "gif" or len(parts) not in (2, 3) or (len(parts) == 3 and not parts[2].isalpha()):
        return None
    try:
        return int(parts[0]), int(parts[1]), parts[2] if len(parts) == 3 else ""
    except ValueError:
        return None


def message_of(job_id: str) -> tuple[int, int] | None:
    """The (chat_id, message_id) a job id was made from by job_id_for; None for any other id."""
    parsed = parse_job_id(job_id)
    return None if parsed is None else parsed[:2]


def parse_user_id(text: str) -> int | None:
    """A user id typed into a search box: digits, negative for a chat that posts on its own behalf
    (an anonymous group admin, a channel: see app.intake.profile_of); None for anything else."""
    text = text.strip()
    digits = text[1:] if text.startswith("-") else text
    return int(text) if digits.isdigit() and digits.isascii() and len(digits) <= 19 else None
