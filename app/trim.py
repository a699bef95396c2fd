"""Trim windows from captions: `3-8`, `0:03-0:08`, `1:02.5-1:10` (seconds from the start)."""

from __future__ import annotations

import re

from core.errors import BadTrim

TIME = r"(?:(\d{1,2}):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)|(\d{1,5}(?:\.\d+)?)"
RANGE = re.compile(rf"^\s*({TIME})\s*(?:-|–|~|to)\s*({TIME})\s*$")
LOOKS_LIKE_RANGE = re.compile(r"^\s*[\d:.]+\s*(?:-|–|~|to)\s*[\d:.]*\s*$")


def _seconds(text: str) -> float:
    parts = [float(p) for p in text.split(":")]
    if any(p >= 60 for p in parts[1:]):
        raise BadTrim(f"bad time {text!r}")
    total = 0.0
    for part in parts:
        total = total * 60 + part
    return total


def parse_trim(caption: str | None) -> tuple[float, float] | None:
    """(start, end) if the caption is a time range; None if it is not meant as one.

    Raises BadTrim for a caption that looks like a range but is not a valid one.
    """
    if not caption:
        return None
    match = RANGE.match(caption)
    if match is None:
        if LOOKS_LIKE_RANGE.match(caption):
            raise BadTrim("unreadable range")
        return None
    left, right = caption.replace("–", "-").replace("~", "-").replace("to", "-").split("-", 1)
    start, end = _seconds(left.strip()), _seconds(right.strip())
    if end <= start:
        raise BadTrim("end not after start")
    return start, end
