"""Probe an untrusted upload with a hardened ffprobe: refuse what is not a plain video, describe the rest."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import BrokenVideo, NotAVideo, TooLarge
from jobs.recipe import FORMAT_WHITELIST, Limits, file_url, input_hardening
from jobs.runner import FFPROBE, FFmpegFailed, run

PROBE_PACKETS = 12  # packets decoded to prove the stream yields a frame (first may not be a key)
_MOV_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"


@dataclass(frozen=True)
class MediaInfo:
    """A probed input; width/height are display size (rotation applied), fps 0.0 if unknown."""

    width: int
    height: int
    duration: float
    fps: float
    format_name: str
    codec_name: str
    has_audio: bool


def probe(src: Path, limits: Limits) -> MediaInfo:
    """Check that `src` is a video we accept and describe it, or raise a UserFacingError."""
    if src.stat().st_size == 0:
        raise BrokenVideo("empty file")
    try:  # headers only, uncapped: nothing is decoded, and the cap would hide the size to check
        header = _ffprobe_json(
            src, limits, "-nofind_stream_info", "-show_format", "-show_streams", capped=False
        )
    except FFmpegFailed as exc:
        kind = BrokenVideo if _looks_like_container(src) else NotAVideo
        raise kind("ffprobe could not open the input") from exc
    streams = header.get("streams") or []
    format_name = str((header.get("format") or {}).get("format_name", ""))
    video = next((s for s in streams if _is_video(s)), None)
    if video is None or not set(format_name.split(",")) & set(FORMAT_WHITELIST.split(",")):
        raise NotAVideo(f"no video stream in {format_name or 'unknown format'}")
    codec_name = str(video.get("codec_name") or "")
    width, height = _display_size(video)
    if codec_name in ("", "unknown", "none") or width <= 0 or height <= 0:
        raise BrokenVideo("video stream without codec or size")
    if width * height > limits.max_pixels:
        raise TooLarge(f"{width}x{height}", max_pixels=limits.max_pixels)
    fps = _first_frame_rate(src, limits)
    duration = _float((header.get("format") or {}).get("duration")) or _float(video.get("duration"))
    duration = duration or _packet_duration(src, limits)  # e.g. a WebM recorded in a browser
    if duration <= 0:
        raise BrokenVideo("no duration")
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    return MediaInfo(width, height, duration, fps, format_name, codec_name, has_audio)


def _ffprobe(
    src: Path, limits: Limits, args: list[str], on_line: Callable[[str], None], capped: bool
) -> None:
    """Run a hardened ffprobe on `src` (it has no -nostdin; its stdin is /dev/null anyway)."""
    flags = [part for key, value in input_hardening(limits, capped).items() for part in (f"-{key}", value)]
    argv = [FFPROBE, "-hide_banner", "-loglevel", "error", *flags, *args, file_url(src)]
    run(argv, limits.probe_timeout, on_line)


def _ffprobe_json(src: Path, limits: Limits, *args: str, capped: bool = True) -> dict[str, Any]:
    """Run a hardened ffprobe with `args` and return its parsed JSON output."""
    lines: list[str] = []
    _ffprobe(src, limits, [*args, "-of", "json"], lines.append, capped)
    try:
        data = json.loads("\n".join(lines))
    except ValueError as exc:
        raise BrokenVideo("ffprobe printed no JSON") from exc
    return data if isinstance(data, dict) else {}


def _first_frame_rate(src: Path, limits: Limits) -> float:
    """Decode the first packets (pixel-capped) to prove a frame comes out; return the fps."""
    args = ["-select_streams", "v:0", "-read_intervals", f"%+#{PROBE_PACKETS}"]
    entries = "stream=avg_frame_rate,r_frame_rate:frame=width,height"
    try:
        data = _ffprobe_json(src, limits, *args, "-show_entries", entries)
    except FFmpegFailed as exc:
        raise BrokenVideo("the video stream does not decode") from exc
    if not data.get("frames"):
        raise BrokenVideo("no frame decoded")
    stream = (data.get("streams") or [{}])[0]
    rates = [_rate(stream.get("avg_frame_rate")), _rate(stream.get("r_frame_rate"))]
    return next((r for r in rates if 0 < r <= 1000), 0.0)


def _packet_duration(src: Path, limits: Limits) -> float:
    """Return the video's end time from its packet timestamps (for files without a duration)."""
    end = [0.0]

    def on_line(line: str) -> None:
        """Keep the latest end (pts + duration) of the packets seen so far."""
        times = [_float(part) for part in line.split(",")[:2]]
        end[0] = max(end[0], sum(times))

    args = ["-select_streams", "v:0", "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0"]
    try:
        _ffprobe(src, limits, args, on_line, capped=True)
    except FFmpegFailed as exc:
        raise BrokenVideo("cannot read packets") from exc
    return end[0]


def _is_video(stream: dict[str, Any]) -> bool:
    """Tell a real video stream from audio and from cover art (an attached picture)."""
    attached = (stream.get("disposition") or {}).get("attached_pic") == 1
    return stream.get("codec_type") == "video" and not attached


def _display_size(stream: dict[str, Any]) -> tuple[int, int]:
    """Return the stream's size as displayed, swapping sides for a 90/270 degree rotation."""
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    rotations = [d.get("rotation") for d in stream.get("side_data_list") or []]
    rotations.append((stream.get("tags") or {}).get("rotate"))
    rotation = next((int(_float(r)) for r in rotations if r is not None), 0)
    return (height, width) if rotation % 180 == 90 else (width, height)


def _looks_like_container(src: Path) -> bool:
    """Tell whether `src` starts like MP4/MOV, Matroska/WebM or AVI (a failure then means broken)."""
    with src.open("rb") as fh:
        head = fh.read(12)
    is_avi = head[:4] == b"RIFF" and head[8:12] == b"AVI "
    return head[4:8] in _MOV_BOXES or head.startswith(_EBML_MAGIC) or is_avi


def _rate(value: object) -> float:
    """Parse an ffprobe rate like '30000/1001' (0.0 if unusable)."""
    num, _, den = str(value or "").partition("/")
    divisor = _float(den) if den else 1.0
    return _float(num) / divisor if divisor > 0 else 0.0


def _float(value: object) -> float:
    """Parse a finite float, 0.0 for 'N/A', None or garbage."""
    try:
        number = float(str(value))
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0
