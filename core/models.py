"""Plain values that cross module and process boundaries: frozen dataclasses and str enums."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

JOB_FUNC = "jobs.convert.convert_video"
JOB_DESCRIPTION = "convert a video to a GIF"  # fixed text: the dashboard renders it


class MediaKind(StrEnum):
    """Which Telegram field the video arrived in."""

    VIDEO = "video"
    ANIMATION = "animation"
    VIDEO_NOTE = "video_note"
    DOCUMENT = "document"


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
    kind: str
    lang: str
    width: int
    fps: int
    max_seconds: float
    start: float = 0.0
    end: float | None = None
    speed: float = 1.0
    reverse: bool = False
    output: str = "animation"  # or "document": a real .gif file
    variant: str = ""  # settings + trim, for the cache of finished GIFs

    @property
    def job_id(self) -> str:
        """Deterministic id from the Telegram message: a re-delivered update maps to the same job."""
        return job_id_for(self.chat_id, self.message_id)

    def to_kwargs(self) -> dict[str, Any]:
        """The job's keyword arguments (JSON-safe)."""
        return asdict(self)

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> ConversionRequest:
        """Rebuild from a job's kwargs, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in kwargs.items() if k in known})


def job_id_for(chat_id: int, message_id: int) -> str:
    """The RQ job id for the video in message `message_id` of chat `chat_id`."""
    return f"gif_{chat_id}_{message_id}"
