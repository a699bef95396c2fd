"""What follows the one-palette conversion (jobs.fit): the shorter encoding of each of its frames is
kept (jobs.gifblocks; gifsicle repacks a GIF too long to be measured), and per-frame palettes
replace it when the measurement says so (jobs.palettes)."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConversionTimeout, TooMuchMemory
from jobs import gifblocks, palettes, toolbox
from jobs.headstart import HeadStart
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


def _convert_per_frame(
    done: Converted, frames: int, fit: palettes.FitFiles, head: HeadStart | None = None
) -> bool:
    """Convert again with a palette per frame (the one-palette GIF had `frames` frames: a long one
    is made in two parts at once), from the frames it kept in `fit` (from `src` if they are not all
    there), then let gifsicle crop each frame to what changed (unless every frame changes at all
    four edges: then the parts are joined here, jobs.gifblocks). A first part the `head` started
    while the conversion ran is taken if it fits.

    `dst` (the one-palette GIF) is replaced only when every run succeeds in time (True); else it stays.
    """
    src, dst, info, options, limits = done.src, done.dst, done.info, done.options, done.limits
    made = part_paths(dst)
    size = target_size(info.width, info.height, options.width)
    kept = fit.kept_frames(*size) == frames
    changes = palettes.frame_changes(fit.kept, size, frames) if kept else palettes.FrameChanges([], True)
    repeats = changes.repeats
    first = head.take(frames, repeats) if head is not None and kept else None
    split = _split(frames, repeats) if first is None else first.split

    def ffmpeg_run(gif: Path, part: tuple[int, int | None] | None) -> None:
        if kept:
            argv = per_frame_args(fit.kept, gif, size, output_fps(info, options), part, repeats)
        else:
            palette = Palette(True, frames=part)
            argv = build_convert_args(src, gif, info, options, limits, toolbox.can_tonemap(), palette)
        run(argv, max(1.0, done.deadline - time.monotonic()))

    try:
        if split is None:
            ffmpeg_run(made[0], None)
            join = palettes.rewrite_args(made[0], made[2]) if changes.croppable else None
            if join is None:  # nothing for gifsicle to crop
                made[0].replace(made[2])
        elif first is not None:  # writing made[0] already
            try:
                ffmpeg_run(made[1], (split, None))
            finally:
                first.run.result()
        else:
            with ThreadPoolExecutor(1, thread_name_prefix="part") as pool:
                rest = pool.submit(ffmpeg_run, made[1], (split, None))
                try:
                    ffmpeg_run(made[0], (0, split + 1))
                finally:
                    rest.result()
        if split is not None:
            shown = palettes.shown_before(split, repeats)
            joined = not changes.croppable and gifblocks.join_parts(made[0], shown, made[1], made[2])
            join = None if joined else palettes.join_args((made[0], made[1]), shown, made[2])
        if join is not None:
            run(join, max(1.0, done.deadline - time.monotonic()))
        made[2].replace(dst)
        return True
    except (FFmpegFailed, ConversionTimeout, TooMuchMemory) as exc:
        logger.warning("per-frame palettes failed (%s); keeping the one-palette GIF", exc)
        return False
    finally:
        for path in made:
            path.unlink(missing_ok=True)


def part_paths(dst: Path) -> list[Path]:
    """Where a per-frame GIF's parts are made: its first part, the rest, the whole one cropped."""
    return [dst.with_name(f"{dst.stem}-{name}.gif") for name in ("frames", "rest", "cropped")]


def _split(frames: int, repeats: list[int]) -> int | None:
    """Where a per-frame GIF of `frames` frames is cut in two parts (palettes.split_point), moved to
    the next frame that is no repeat: each part's first frame is a frame of its own."""
    split = palettes.split_point(frames)
    while split is not None and split in repeats:
        split += 1
    return split


def finish(
    done: Converted, frames: int, measurement: Measurement | None, head: HeadStart | None = None
) -> None:
    """Make the one-palette GIF smaller without changing a pixel, or replace it with per-frame
    palettes if the measurement says so. A measured conversion also wrote its GIF without
    transparency, and the shorter encoding of each frame is spliced in (jobs.gifblocks, a few ms),
    unless per-frame palettes are chosen already; a GIF too long to be measured is repacked by
    gifsicle instead (0.1-0.3 s after ffmpeg's last frame on bench's clips)."""
    if measurement is None:
        repacked = _repacked(done.dst, done.deadline)
        if repacked is not None:
            repacked.replace(done.dst)
        return
    spliced = False
    if not (measurement.done() and measurement.per_frame_pays()):
        gifblocks.splice_smaller(done.dst, measurement.files.opaque)
        spliced = True
    if measurement.per_frame_pays() and _convert_per_frame(done, frames, measurement.files, head):
        return
    if not spliced:  # per-frame palettes failed: the one-palette GIF stays
        gifblocks.splice_smaller(done.dst, measurement.files.opaque)


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
