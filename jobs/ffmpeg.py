"""Probe an untrusted upload, convert it with jobs.recipe's command through jobs.runner, fit the cap."""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.errors import (
    BadTrim,
    BrokenVideo,
    NotAVideo,
    TooLarge,
)
from jobs.recipe import (
    FORMAT_WHITELIST,
    PIXEL_BUDGET_RATIO,
    GifOptions,
    Limits,
    build_convert_args,
    file_url,
    input_hardening,
    output_fps,
    source_window,
    target_size,
)
from jobs.runner import FFPROBE, FFmpegFailed, run

logger = logging.getLogger(__name__)

PROBE_PACKETS = 12  # packets decoded to prove the stream yields a frame (first may not be a key)
FPS_LADDER = (8, 6)  # output fps tried, in order, when a GIF is over max_output_bytes
MIN_WIDTH = 64  # the width parameter is never shrunk below this
MAX_ATTEMPTS = 5  # ffmpeg runs per convert(), the first included
SIZE_SAFETY = 0.9  # aim this far under max_output_bytes: size only roughly tracks pixels*frames
_MOV_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
# Share of a conversion spent reading the input and building the palette: 0.55-0.65 on bench's
# corpus since the frames are rounded first (it was ~0.85 when palettegen dominated).
DECODE_SHARE = 0.6
PROGRESS_POLL_S = 0.3


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


@dataclass(frozen=True)
class GifResult:
    """The GIF written; seconds is its play time, truncated means input was left unconverted."""

    path: Path
    width: int
    height: int
    fps: float
    seconds: float
    size_bytes: int
    truncated: bool
    shrunk: bool


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


def convert(
    src: Path,
    dst: Path,
    options: GifOptions,
    limits: Limits,
    progress: Callable[[float], None] | None = None,
) -> GifResult:
    """Probe `src` and write a looping GIF to `dst`, lowering fps then width until it fits."""
    info = probe(src, limits)
    start, end = source_window(info, options)
    if end <= start:
        raise BadTrim("the trim window starts after the end of the video")
    report = _Progress(progress)
    attempt, size = options, _convert_once(src, dst, info, options, limits, report)
    for _ in range(MAX_ATTEMPTS - 1):
        smaller = _shrink(info, attempt, size, limits.max_output_bytes)
        if size <= limits.max_output_bytes or smaller is None:
            break
        logger.info("GIF is %d bytes, over %d: retrying with %s", size, limits.max_output_bytes, smaller)
        attempt, size = smaller, _convert_once(src, dst, info, smaller, limits, report)
    if size > limits.max_output_bytes:
        logger.warning("GIF still %d bytes after shrinking (cap %d)", size, limits.max_output_bytes)
    report(1.0)
    return _result(dst, info, options, attempt, size)


def _convert_once(
    src: Path,
    dst: Path,
    info: MediaInfo,
    options: GifOptions,
    limits: Limits,
    report: Callable[[float], None],
) -> int:
    """Run one conversion and return the GIF's size in bytes."""
    start, end = source_window(info, options)
    expected_us = max((end - start) / options.speed, 0.001) * 1e6
    expected_bytes = max(1, int(src.stat().st_size * min(1.0, end / max(info.duration, 0.001))))
    stop = threading.Event()

    def on_line(line: str) -> None:  # ffmpeg reports nothing until palettegen has seen every frame
        key, _, value = line.partition("=")
        if key == "out_time_us" and value.isdigit():
            report(DECODE_SHARE + (1 - DECODE_SHARE) * min(1.0, int(value) / expected_us))

    def on_start(pid: int) -> None:  # so progress comes from how far ffmpeg has read its input
        watch = threading.Thread(
            target=_watch_input, args=(pid, src, expected_bytes, report, stop), daemon=True
        )
        watch.start()

    try:
        run(build_convert_args(src, dst, info, options, limits), limits.convert_timeout, on_line, on_start)
    except FFmpegFailed as exc:
        raise BrokenVideo("ffmpeg could not convert the input") from exc
    finally:
        stop.set()
    size = dst.stat().st_size if dst.exists() else 0
    if size == 0:
        raise BrokenVideo("ffmpeg wrote no frames")
    return size


def _shrink(info: MediaInfo, attempt: GifOptions, size: int, cap: int) -> GifOptions | None:
    """Return options predicted to fit `cap` (size ~ fps * pixels): fps down the ladder, then width."""
    ratio = cap * SIZE_SAFETY / size
    fps_now = output_fps(info, attempt)
    lower = [f for f in FPS_LADDER if f < fps_now]
    fps = max((f for f in lower if f <= fps_now * ratio), default=min(lower, default=attempt.fps))
    smaller = replace(attempt, fps=fps)
    ratio *= fps_now / output_fps(info, smaller)  # what is left to gain from the width
    if ratio >= 1:
        return smaller
    width_now, _ = target_size(info.width, info.height, attempt.width)
    per_width = min(1 / info.width, math.sqrt(PIXEL_BUDGET_RATIO / (info.width * info.height)))
    # GIF bytes fall slower than pixels (~pixels^0.85), hence ratio^0.6 rather than a square root.
    width = max(MIN_WIDTH, int(width_now / info.width * min(ratio**0.6, 0.85) / per_width))
    if width < attempt.width:
        return replace(smaller, width=width)
    return smaller if smaller != attempt else None


def _result(dst: Path, info: MediaInfo, asked: GifOptions, used: GifOptions, size: int) -> GifResult:
    """Describe the GIF written with `used` options (from what was `asked`)."""
    start, end = source_window(info, used)
    wanted_end = info.duration if used.end is None else min(used.end, info.duration)
    width, height = target_size(info.width, info.height, used.width)
    return GifResult(
        path=dst,
        width=width,
        height=height,
        fps=output_fps(info, used),
        seconds=(end - start) / used.speed,
        size_bytes=size,
        truncated=wanted_end - end > 0.001,
        shrunk=used != asked,
    )


def _watch_input(
    pid: int, src: Path, expected_bytes: int, report: Callable[[float], None], stop: threading.Event
) -> None:
    """Report the decode phase's progress from the input file's read offset until `stop`."""
    while not stop.wait(PROGRESS_POLL_S):
        position = _read_offset(pid, src)
        if position is not None:
            report(DECODE_SHARE * min(1.0, position / expected_bytes))


def _read_offset(pid: int, src: Path) -> int | None:
    """How far process `pid` has read `src` (Linux /proc), None if unknown."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(src):
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    for line in info:
                        if line.startswith("pos:"):
                            return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class _Progress:
    """Pass on rising fractions only (a retry restarts ffmpeg's clock); drop a callback that fails."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self.callback, self.last = callback, -1.0

    def __call__(self, fraction: float) -> None:
        if self.callback is None or fraction <= self.last:
            return
        self.last = fraction
        try:
            self.callback(fraction)
        except Exception:  # cosmetic: a failing progress display must not fail the conversion
            logger.exception("progress callback failed; no further progress reported")
            self.callback = None


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
