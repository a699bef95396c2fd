"""What follows the one-palette conversion (jobs.fit): gifsicle repacks its GIF while the palette
measurement ends, and per-frame palettes replace it when the measurement says so (jobs.palettes)."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConversionTimeout, TooMuchMemory
from jobs import palettes, toolbox
from jobs.measure import Measurement
from jobs.probe import MediaInfo
from jobs.recipe import (
    GifOptions,
    Limits,
    Palette,
    build_convert_args,
    output_fps,
    per_frame_args,
    target_size,
)
from jobs.runner import FFmpegFailed, run

logger = logging.getLogger("jobs.fit")  # its messages keep the name they had there


@dataclass(frozen=True)
class Converted:
    """A one-palette conversion just done: `src` to the GIF `dst`, and when its passes must end."""

    src: Path
    dst: Path
    info: MediaInfo
    options: GifOptions
    limits: Limits
    deadline: float  # time.monotonic()


def _convert_per_frame(done: Converted, frames: int, fit: palettes.FitFiles) -> bool:
    """Convert again with a palette per frame (the one-palette GIF had `frames` frames: a long one
    is made in two parts at once), from the frames it kept in `fit` (from `src` if they are not all
    there), then let gifsicle crop each frame to what changed.

    `dst` (the one-palette GIF) is replaced only when every run succeeds in time (True); else it stays.
    """
    src, dst, info, options, limits = done.src, done.dst, done.info, done.options, done.limits
    made = [dst.with_name(f"{dst.stem}-{name}.gif") for name in ("frames", "rest", "cropped")]
    split = palettes.split_point(frames)
    size = target_size(info.width, info.height, options.width)
    kept = fit.kept_frames(*size) == frames

    def ffmpeg_run(gif: Path, part: tuple[int, int | None] | None) -> None:
        if kept:
            argv = per_frame_args(fit.kept, gif, size, output_fps(info, options), part)
        else:
            palette = Palette(True, frames=part)
            argv = build_convert_args(src, gif, info, options, limits, toolbox.can_tonemap(), palette)
        run(argv, max(1.0, done.deadline - time.monotonic()))

    try:
        if split is None:
            ffmpeg_run(made[0], None)
            join = palettes.rewrite_args(made[0], made[2])
        else:
            with ThreadPoolExecutor(1, thread_name_prefix="part") as pool:
                rest = pool.submit(ffmpeg_run, made[1], (split, None))
                try:
                    ffmpeg_run(made[0], (0, split + 1))
                finally:
                    rest.result()
            join = palettes.join_args((made[0], made[1]), split, made[2])
        run(join, max(1.0, done.deadline - time.monotonic()))
        made[2].replace(dst)
        return True
    except (FFmpegFailed, ConversionTimeout, TooMuchMemory) as exc:
        logger.warning("per-frame palettes failed (%s); keeping the one-palette GIF", exc)
        return False
    finally:
        for path in made:
            path.unlink(missing_ok=True)


def finish(done: Converted, frames: int, measurement: Measurement | None) -> None:
    """gifsicle repacks the one-palette GIF while the measurement ends; then per-frame palettes
    replace it if the measurement says so (without waiting for the repack, whose file goes), else
    the smaller of ffmpeg's and gifsicle's GIF stays. A measurement that has already chosen
    per-frame palettes is not raced by a repack (its CPU would slow the per-frame runs), unless
    they fail."""
    if measurement is not None and measurement.done() and _per_frame_pays(measurement):
        if _convert_per_frame(done, frames, measurement.files):
            return
        measurement = None  # they failed: the one-palette GIF stays, repacked
    with ThreadPoolExecutor(1, thread_name_prefix="repack") as pool:
        repacking = pool.submit(_repacked, done.dst, done.deadline)
        replaced = False
        if measurement is not None and _per_frame_pays(measurement):
            replaced = _convert_per_frame(done, frames, measurement.files)
        smaller = repacking.result()
    if smaller is not None and replaced:
        smaller.unlink(missing_ok=True)
    elif smaller is not None:
        smaller.replace(done.dst)


def _per_frame_pays(measurement: Measurement) -> bool:
    """Whether the measurement (waited for) says per-frame palettes cut the error enough."""
    return measurement.gain() >= palettes.PER_FRAME_GAIN_MSE


def _repacked(dst: Path, deadline: float) -> Path | None:
    """gifsicle's optimisation of the one-palette GIF `dst` beside it, if smaller; else None.

    Lossless (the same pixels at the same times; a repeated frame may become a longer delay). On
    bench's corpus it took 1-8 % off camera footage, films and grainy gradients and made screen
    text and a still scene 2-4 % bigger, hence the comparison (README, Performance). If gifsicle
    fails or runs out of time, ffmpeg's GIF stays.
    """
    repacked = dst.with_name(f"{dst.stem}-repacked.gif")
    try:
        run(palettes.repack_args(dst, repacked), max(1.0, deadline - time.monotonic()))
        if 0 < repacked.stat().st_size < dst.stat().st_size:
            return repacked
    except (FFmpegFailed, ConversionTimeout, TooMuchMemory, OSError) as exc:
        logger.warning("gifsicle could not repack the GIF (%s); keeping ffmpeg's", exc)
    repacked.unlink(missing_ok=True)
    return None
