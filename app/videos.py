"""Which part of a message is a video to convert: video, animation, round video or video file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from telebot.types import Message

from core.models import MediaKind

# File name endings of the containers the worker reads (see jobs.recipe.FORMAT_WHITELIST).
VIDEO_EXTENSIONS = frozenset(
    {".mts", ".m2ts", ".ts", ".vob", ".mpg", ".mpeg", ".flv", ".wmv", ".asf", ".3gp", ".3g2", ".ogv"}
    | {".mkv", ".webm", ".mp4", ".mov", ".m4v", ".avi"}
)
UNTYPED_MIME_TYPES = frozenset({"", "application/octet-stream"})


@dataclass(frozen=True)
class IncomingVideo:
    """The video part of a message, whichever field Telegram put it in."""

    kind: MediaKind
    file_id: str
    file_unique_id: str
    file_size: int


def find_video(message: Message) -> IncomingVideo | None:
    """Return the message's video, animation, round video or video document; None otherwise."""
    candidates = (
        (MediaKind.ANIMATION, message.animation),  # before document: Telegram sets both for GIFs
        (MediaKind.VIDEO, message.video),
        (MediaKind.VIDEO_NOTE, message.video_note),
    )
    for kind, media in candidates:
        if media is not None:
            return IncomingVideo(kind, media.file_id, media.file_unique_id, media.file_size or 0)
    doc = message.document
    if doc is not None and is_video_document(doc.mime_type, doc.file_name):
        return IncomingVideo(MediaKind.DOCUMENT, doc.file_id, doc.file_unique_id, doc.file_size or 0)
    return None


def is_video_document(mime_type: str | None, file_name: str | None) -> bool:
    """Any video/* file; a typeless one (octet-stream or none) only if its name ends like a video.

    Telegram's clients label what they do not know (.mts, .vob, .flv...) application/octet-stream.
    The name only picks what to try: the worker's probe decides what the bytes really are.
    """
    mime = (mime_type or "").lower().strip()
    if mime.startswith("video/"):
        return True
    suffix = PurePosixPath((file_name or "").lower()).suffix
    return mime in UNTYPED_MIME_TYPES and suffix in VIDEO_EXTENSIONS
