"""Reading ffprobe's JSON: frame rates, rotation, stream kinds, numbers; and a file's first bytes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

_MOV_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}
_MAGIC = (b"\x1a\x45\xdf\xa3", b"\x00\x00\x01\xba", b"FLV\x01", b"OggS", b"\x30\x26\xb2\x75\x8e\x66\xcf\x11")
# Where MPEG-TS sync bytes ("G") recur: every 188 bytes, or in M2TS (AVCHD) every 192 from byte 4.
_TS_SYNC = ((0, 188), (4, 192))


def frames_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The frames of a decode run's JSON (listed alone, or among its packets)."""
    both = data.get("packets_and_frames") or []
    return data.get("frames") or [item for item in both if item.get("type") == "frame"]


def frame_rate(stream: dict[str, Any]) -> float:
    """The stream's frame rate (average, else the base rate); 0.0 if unknown or absurd."""
    rates = [rate(stream.get("avg_frame_rate")), rate(stream.get("r_frame_rate"))]
    return next((r for r in rates if 0 < r <= 1000), 0.0)


def is_video(stream: dict[str, Any]) -> bool:
    """Tell a real video stream from audio and from cover art (an attached picture)."""
    attached = (stream.get("disposition") or {}).get("attached_pic") == 1
    return stream.get("codec_type") == "video" and not attached


def rotated(width: int, height: int, stream: dict[str, Any]) -> tuple[int, int]:
    """Return a display size with its sides swapped for a 90/270 degree rotation of `stream`."""
    rotations = [d.get("rotation") for d in stream.get("side_data_list") or []]
    rotations.append((stream.get("tags") or {}).get("rotate"))
    rotation = next((int(number(r)) for r in rotations if r is not None), 0)
    return (height, width) if rotation % 180 == 90 else (width, height)


def looks_like_container(src: Path) -> bool:
    """Tell whether `src` starts like one of the whitelisted containers (a failure then means broken)."""
    with src.open("rb") as fh:
        head = fh.read(400)
    is_avi = head[:4] == b"RIFF" and head[8:12] == b"AVI "
    is_ts = any(head[offset::size][:3] == b"GGG" for offset, size in _TS_SYNC)
    return head[4:8] in _MOV_BOXES or head.startswith(_MAGIC) or is_avi or is_ts


def rate(value: object) -> float:
    """Parse an ffprobe rate like '30000/1001' (0.0 if unusable)."""
    num, _, den = str(value or "").partition("/")
    divisor = number(den) if den else 1.0
    return number(num) / divisor if divisor > 0 else 0.0


def number(value: object) -> float:
    """Parse a finite float, 0.0 for 'N/A', None or garbage."""
    try:
        number = float(str(value))
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0
