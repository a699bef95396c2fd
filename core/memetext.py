"""Meme text for a GIF (`/text TOP | BOTTOM`): read from the user, kept in Redis under the job id.

The text is never a job argument (the dashboard shows those): the bot stores it here before it
queues the job, the worker reads it, and it goes when the job ends (or its TTL runs out).
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from redis import Redis

from core import keys
from core.errors import UserFacingError
from core.texts import ZH

MAX_CHARS = 200  # per line (top or bottom), after cleaning
TEXT_TTL_S = 3 * 24 * 3600  # as long as a message is remembered as queued (markers.MESSAGE_MARKER_TTL_S)
CAPTION_MARK = ">"  # a video whose caption starts with this gets the rest drawn on its GIF
SEPARATOR = "|"
# Noto Sans CJK covers Latin and CJK; zh users get the Traditional Chinese face, everyone else the
# Japanese one (the family's default; its Latin is the same in every face).
FACES = {ZH: "Noto Sans CJK TC"}
DEFAULT_FACE = "Noto Sans CJK JP"


class MemeTextTooLong(UserFacingError):
    """A line of text is longer than MAX_CHARS."""

    text_key = "text_too_long"


class NoMemeText(UserFacingError):
    """/text (or a `>` caption) with nothing to draw."""

    text_key = "text_usage"


class MemeTextGone(UserFacingError):
    """The job's text expired from Redis before the worker read it."""

    text_key = "text_gone"


@dataclass(frozen=True)
class MemeText:
    """The words to draw: top and bottom, either may be empty (not both)."""

    top: str
    bottom: str

    def digest(self, lang: str) -> str:
        """A short hash of the text and face, for the GIF cache's variant (never the text itself)."""
        raw = "\x00".join((face_for(lang), self.top, self.bottom)).encode()
        return hashlib.sha256(raw).hexdigest()[:16]


def face_for(lang: str) -> str:
    """The Noto Sans CJK face for a user's language."""
    return FACES.get(lang, DEFAULT_FACE)


def clean_line(raw: str) -> str:
    """Drop what must not be drawn: controls, format marks (bidi overrides), surrogates, private use,
    unassigned code points; line breaks and runs of spaces become one space."""
    kept = []
    for char in raw:
        kind = unicodedata.category(char)
        if kind in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif not kind.startswith("C"):
            kept.append(char)
    return " ".join("".join(kept).split())


def parse(raw: str) -> MemeText:
    """`TOP | BOTTOM` (or just `TOP`) -> MemeText; NoMemeText if empty, MemeTextTooLong past MAX_CHARS."""
    top, _, bottom = raw.partition(SEPARATOR)
    text = MemeText(clean_line(top), clean_line(bottom))
    if not text.top and not text.bottom:
        raise NoMemeText("no text")
    if max(len(text.top), len(text.bottom)) > MAX_CHARS:
        raise MemeTextTooLong("text too long", max_chars=MAX_CHARS)
    return text


def from_caption(caption: str | None) -> str | None:
    """The raw text of a caption that starts with CAPTION_MARK; None for any other caption."""
    stripped = (caption or "").lstrip()
    return stripped[len(CAPTION_MARK) :] if stripped.startswith(CAPTION_MARK) else None


def store(redis: Redis, job_id: str, text: MemeText) -> None:
    """Keep the text for the job's worker, for TEXT_TTL_S at most."""
    with redis.pipeline() as pipe:
        pipe.hset(keys.meme_text(job_id), mapping={"top": text.top, "bottom": text.bottom})
        pipe.expire(keys.meme_text(job_id), TEXT_TTL_S)
        pipe.execute()


def load(redis: Redis, job_id: str) -> MemeText:
    """The job's text, cleaned again; MemeTextGone if it is no longer there."""
    raw = redis.hgetall(keys.meme_text(job_id))
    if not raw:
        raise MemeTextGone(f"no text for {job_id}")
    fields = {k.decode(): clean_line(v.decode(errors="replace"))[:MAX_CHARS] for k, v in raw.items()}
    return MemeText(fields.get("top", ""), fields.get("bottom", ""))


def drop(redis: Redis, job_id: str) -> None:
    """Delete the job's text (its job ended)."""
    redis.delete(keys.meme_text(job_id))
