"""Find black bars (letterbox, pillarbox) with one hardened ffmpeg run of cropdetect on a few seeks."""

from __future__ import annotations

import logging
from pathlib import Path

import ffmpeg

from jobs.framing import Box
from jobs.probe import MediaInfo
from jobs.recipe import VIDEO_STREAM, Limits, file_url, input_hardening, target_size
from jobs.runner import FFMPEG_QUIET, FFmpegFailed, run

logger = logging.getLogger(__name__)

SEEKS = 4  # places in the window looked at, evenly spread
FRAMES_PER_SEEK = 3
SEEK_SPAN_SECONDS = 1.0  # each seek reads at most this much input
# Frames are scaled to a known size for cropdetect: the display size (square pixels, so the box is
# the same fraction of any frame) up to a 1920 px wide budget; a smaller one blurs the bar's edge
# into the picture and left a 2 px line of bar at 480.
DETECT_WIDTH = 1920
# Black is luma below this fraction of full scale (cropdetect's own default, 24 of 255).
BLACK_LIMIT = 24 / 255
MIN_CUT = 0.04  # a side losing less than this fraction of its length keeps it (noise, a thin edge)
MIN_KEEP = 0.25  # a picture narrower or lower than this fraction is a dark scene, not bars
_KEY = "lavfi.cropdetect."


def detect(src: Path, info: MediaInfo, start: float, end: float, limits: Limits) -> Box | None:
    """The box holding every sampled frame's picture, or None when no bar is worth cutting.

    A failing run crops nothing (the conversion then tells what is wrong with the file).
    """
    size = target_size(info.width, info.height, DETECT_WIDTH)
    lines: list[str] = []
    try:
        run(build_args(src, info, start, end, limits, size), limits.probe_timeout, lines.append)
    except FFmpegFailed:
        logger.warning("cropdetect failed; converting uncropped")
        return None
    return bars_box(lines, *size)


def build_args(
    src: Path, info: MediaInfo, start: float, end: float, limits: Limits, size: tuple[int, int]
) -> list[str]:
    """The ffmpeg argv: SEEKS inputs into one cropdetect, its per-frame bounds printed on stdout."""
    seeks = [0.0] if info.still else [start + (i + 0.5) * (end - start) / SEEKS for i in range(SEEKS)]
    samples = [
        ffmpeg.input(file_url(src), ss=f"{at:.3f}", t=SEEK_SPAN_SECONDS, **input_hardening(limits))[
            VIDEO_STREAM
        ]
        .filter("trim", end_frame=FRAMES_PER_SEEK)
        .filter("scale", *size, flags="bilinear")
        .filter("setsar", "1")
        for at in seeks
    ]
    joined = ffmpeg.concat(*samples, v=1, a=0) if len(samples) > 1 else samples[0]
    found = joined.filter("cropdetect", limit=f"{BLACK_LIMIT:.4f}", round=1, skip=0)
    printed = found.filter("metadata", mode="print", file="pipe:1")
    return ffmpeg.compile(printed.output("-", f="null"), cmd=list(FFMPEG_QUIET))


def bars_box(lines: list[str], width: int, height: int) -> Box | None:
    """The union of the frames' picture bounds in cropdetect's lines, as a Box of a width x height
    frame; None if no side loses at least MIN_CUT (or no picture was seen)."""
    bounds: dict[str, list[int]] = {"x1": [], "x2": [], "y1": [], "y2": []}
    for line in lines:
        name, _, value = line.removeprefix(_KEY).partition("=")
        if line.startswith(_KEY) and name in bounds and value.lstrip("-").isdigit():
            bounds[name].append(int(value))
    if not all(bounds.values()):
        return None
    x, w = _span(min(bounds["x1"]), max(bounds["x2"]), width)
    y, h = _span(min(bounds["y1"]), max(bounds["y2"]), height)
    box = Box(x, y, w, h)
    return None if box == Box() else box


def _span(first: int, last: int, length: int) -> tuple[float, float]:
    """Offset and size (fractions of `length`) of pixels first..last; the whole when not worth it."""
    size = (last - first + 1) / length
    if first > last or size > 1 - MIN_CUT or size < MIN_KEEP:
        return 0.0, 1.0
    return first / length, size
