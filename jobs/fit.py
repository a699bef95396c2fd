"""Fit a GIF under the size cap: probe, convert once, then lower fps and width until it fits."""

from __future__ import annotations

import logging
import math
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from core.errors import BadTrim, BrokenVideo, GifTooBig
from jobs import bars, framing, palettes, toolbox
from jobs.headstart import HeadStart
from jobs.measure import Measurement
from jobs.passes import Converted, finish, part_paths
from jobs.probe import MediaInfo, probe
from jobs.progress import Progress, RunProgress
from jobs.recipe import (
    PIXEL_BUDGET_RATIO,
    GifOptions,
    Limits,
    Palette,
    build_convert_args,
    output_fps,
    source_window,
    target_size,
)
from jobs.runner import FFmpegFailed, run
from jobs.warm import Later, Warm

logger = logging.getLogger(__name__)
T = TypeVar("T")

FPS_LADDER = (8, 6)  # output fps tried, in order, when a GIF is over max_output_bytes
MIN_WIDTH = 64  # the width parameter is never shrunk below this
MAX_ATTEMPTS = 5  # ffmpeg runs per convert(), the first included
SIZE_SAFETY = 0.9  # aim this far under max_output_bytes: size only roughly tracks pixels*frames


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
    ffmpeg_seconds: float = 0.0  # wall time of the ffmpeg conversion runs alone (no probe)
    ffmpeg_cpu_seconds: float = 0.0  # their CPU time (user + system)


def convert(
    src: Path,
    dst: Path,
    options: GifOptions,
    limits: Limits,
    progress: Callable[[float], None] | None = None,
    warm: Warm | None = None,
) -> GifResult:
    """Probe `src` (with the ffprobe runs `warm` holds, if any) and write a looping GIF to `dst`,
    lowering fps then width until it fits; GifTooBig if it still does not."""

    def make(later: Later) -> GifResult:
        return _convert(src, dst, options, limits, progress, prepare(src, options, limits, warm, later))

    return probed(dst, make)


def probed(dst: Path, make: Callable[[Later], T]) -> T:
    """make(later), whose probe leaves its ffprobe runs' exits to `later`: the conversion starts
    while they exit, and one that failed raises after it, as the probe would have. Nothing is
    left at `dst` if anything failed."""
    try:
        with Later() as later:
            return make(later)
    except Exception:
        dst.unlink(missing_ok=True)  # e.g. made before a probe run's failure came to light
        raise


def _convert(
    src: Path,
    dst: Path,
    options: GifOptions,
    limits: Limits,
    progress: Callable[[float], None] | None,
    info: MediaInfo,
) -> GifResult:
    """convert() once `src` is probed."""
    report = Progress(progress)
    attempt, (size, *ran) = options, convert_once(src, dst, info, options, limits, report)
    for _ in range(MAX_ATTEMPTS - 1):
        smaller = _shrink(info, attempt, size, limits.max_output_bytes)
        if size <= limits.max_output_bytes or smaller is None:
            break
        logger.info("GIF is %d bytes, over %d: retrying with %s", size, limits.max_output_bytes, smaller)
        attempt, (size, *again) = smaller, convert_once(src, dst, info, smaller, limits, report)
        ran = [a + b for a, b in zip(ran, again, strict=True)]
    if size > limits.max_output_bytes:  # Telegram would refuse it (413): never try to send it
        dst.unlink(missing_ok=True)
        raise GifTooBig(f"GIF still {size} bytes after shrinking (cap {limits.max_output_bytes})")
    report(1.0)
    done = _result(dst, info, options, attempt, size)
    return replace(done, ffmpeg_seconds=ran[0], ffmpeg_cpu_seconds=ran[1])


def prepare(
    src: Path, options: GifOptions, limits: Limits, warm: Warm | None = None, later: Later | None = None
) -> MediaInfo:
    """Probe `src` (with the ffprobe runs `warm` holds, if any; their exits left to `later`, if
    given), check the window, and frame the picture: the black bars found by one cropdetect run
    cut if options.crop, a centred square if options.square."""
    info = probe(src, limits, warm, later)
    start, end = source_window(info, options)
    if end <= start:
        raise BadTrim("the trim window starts after the end of the video")
    found = bars.detect(src, info, start, end, limits) if options.crop else None
    return framing.framed(info, found, options.square)


def convert_once(
    src: Path,
    dst: Path,
    info: MediaInfo,
    options: GifOptions,
    limits: Limits,
    report: Callable[[float], None] = lambda _fraction: None,
    build: Callable[..., list[str]] = build_convert_args,
) -> tuple[int, float, float]:
    """Run one conversion (argv from `build`, the GIF's by default; a GIF whose colours change over
    time runs ffmpeg again with a palette per frame, then gifsicle); return the output's size in
    bytes, the children's wall and CPU seconds."""
    start, end = source_window(info, options)
    expected_us = max((end - start) / options.speed, 0.001) * 1e6
    expected_bytes = max(1, int(src.stat().st_size * min(1.0, end / max(info.duration, 0.001))))
    watch = RunProgress(report, src, expected_bytes, expected_us)
    gif = build is build_convert_args  # the sticker's graph has no palette to measure
    width, height = target_size(info.width, info.height, options.width)
    frames = (end - start) / options.speed * output_fps(info, options)
    measure = gif and not info.still and palettes.worth_measuring(frames, width, height)
    fit = palettes.fit_files(dst) if measure else None
    started, cpu, measurement, head = time.monotonic(), _children_cpu(), None, None
    try:
        extra = {"palette": Palette(fit=fit)} if gif else {}
        argv = build(src, dst, info, options, limits, tonemap=toolbox.can_tonemap(), **extra)
        started, cpu = time.monotonic(), _children_cpu()
        deadline = started + limits.convert_timeout
        if fit is not None:  # it starts with the conversion (jobs.measure)
            measurement = Measurement(fit, width, height, frames, deadline)
            measurement.start()
            rate = output_fps(info, options)
            head = HeadStart(measurement, part_paths(dst)[0], (width, height), rate, deadline)
        run(argv, limits.convert_timeout, watch.on_line, watch.on_start)
        if gif and not info.still and palettes.can_rewrite():
            finish(Converted(src, dst, info, options, limits, deadline), watch.frames, measurement, head)
        ran, cpu = time.monotonic() - started, _children_cpu() - cpu
    except FFmpegFailed as exc:
        raise BrokenVideo("ffmpeg could not convert the input") from exc
    finally:
        watch.stop()
        if head is not None:  # before the measurement's files go
            head.close()
        if measurement is not None:
            measurement.close()
    size = dst.stat().st_size if dst.exists() else 0
    if size == 0:
        raise BrokenVideo("ffmpeg wrote no frames")
    return size, ran, cpu


def _children_cpu() -> float:
    """CPU seconds of this process's reaped children (ffmpeg counts once run() has reaped it)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
