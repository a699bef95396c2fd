"""One palette for the whole GIF, or one per frame: the measurement that chooses, and the GIF rewrite
that makes per-frame palettes pay.

A single palette serves most clips best: still areas keep their colour index from frame to frame,
so the GIF encoder leaves them transparent. Where the colours on screen change over time (a
slideshow's photos, a colour-cycling animation) one palette has to spread 256 colours over all of
them and every frame looks worse than it needs to. So a measuring run (jobs.measure) maps a small
copy of some of its frames both ways and writes each way's error (psnr stats files); when per-frame
palettes would cut the error by more than PER_FRAME_GAIN_MSE, it converts again with a palette per
frame. ffmpeg 5.1's GIF encoder only crops and makes unchanged pixels transparent while a frame's
palette equals the first frame's, so the per-frame GIF is then rewritten by gifsicle (-O1: each
frame cropped to what changed on screen, across palettes; lossless), hardened like ffmpeg.

Builds filter nodes and argvs, reads the two stats files; runs no process itself.
"""

from __future__ import annotations

import functools
import math
import os
import re
import shutil
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from jobs.runner import FFMPEG_QUIET

GIFSICLE = "gifsicle"
# Frames measured, spread over the clip: palettegen's per-frame mode costs ~35 ms a frame even this
# small, so measuring all of a 4 s clip's 48 frames added 1.7 s of CPU to a 1.8 s conversion.
FIT_FRAMES = 8
FIT_DOWNSCALE = 4  # the measuring copy is 1/4 of the GIF's width and height (1/16 of its pixels)
# Mean squared error (0-255 scale, RGB) that per-frame palettes must take off the one palette's.
# bench's corpus at 480 px, under the pinned ffmpeg 9 (whose OkLab palettes roughly double 5.1's
# errors in RGB): slideshow 11.2, Mandelbrot zoom 25.0, fast motion 5.0; every other clip 3.3 or
# less (flat test graphics 3.3, camera footage 0.6-2.5, film 0.1-2.2, text 0.03).
PER_FRAME_GAIN_MSE = 4.0
# The measurement as a branch of the conversion made ffmpeg hold more decoded frames: +76 MB on
# bench's 30 s 1080x1920 clip (ffmpeg 410 MB instead of 334; the worker tree 528 MB, over its 500 MB
# bound). Its own run (jobs.measure) takes ~125 MB of RSS (53 of them ffmpeg's shared libraries) while
# the conversion holds every frame, and the conversion holds ~70 MB less than with the branch. It
# still runs only on GIFs of at most this many pixels in all (15 s at the default 480x270, 12 fps);
# longer ones keep one palette.
MEASURE_MAX_PIXELS = 15 * 12 * 480 * 270
# A GIF of per-frame palettes of at least twice this many frames is made in two parts at once, one
# ffmpeg run each, where the box has more than one CPU: no frame's palette depends on another's, so
# gifsicle's rewrite joins them into the same file one run makes (bench's slideshow: 1.31 -> 0.99 s,
# Mandelbrot zoom: 2.12 -> 1.52 s of wall time; the second part's run decodes the first part too).
PART_MIN_FRAMES = 8
# ffmpeg sets up a run's filters when its first frame arrives (~0.1 s for the measuring run's,
# twice over); a frame of zeros fed at its start, then dropped, has that done before the samples.
WARM_UP_FRAMES = 1
STATS_NAMES = ("fit-one.log", "fit-each.log")  # psnr stats: one palette, a palette per frame
KEPT_NAME = "fit-kept.bgra"
OPAQUE_NAME = "fit-opaque.gif"
FEED_NAME = "fit-feed.fifo"
_MSE = re.compile(r"mse_avg:([0-9.]+|inf|nan)")


@functools.cache
def can_rewrite() -> bool:
    """Tell whether gifsicle is installed here (without it every GIF keeps one palette)."""
    return shutil.which(GIFSICLE) is not None


def worth_measuring(frames: float, width: int, height: int) -> bool:
    """Whether a GIF of `frames` frames of width x height is measured for per-frame palettes."""
    return can_rewrite() and frames * width * height <= MEASURE_MAX_PIXELS


@dataclass(frozen=True)
class FitFiles:
    """The fit measurement's files beside the GIF: every GIF frame before its palette (raw BGRA,
    written by the conversion), which the measuring run samples and the per-frame runs start from,
    and the two psnr stats files (written by the measuring run).

    The kept frames take 4 bytes a pixel: at most 93 MB (MEASURE_MAX_PIXELS), 25 MB for 4 s at
    480x270 and 12 fps; writing them added ~0.01-0.03 s to a conversion of bench's 4 s clips."""

    stats: tuple[Path, Path]  # one palette, a palette per frame
    kept: Path
    opaque: Path  # the one-palette GIF encoded without transparency (jobs.gifblocks)
    feed: Path  # the FIFO through which the measuring run reads its samples

    def all(self) -> tuple[Path, ...]:
        return (*self.stats, self.kept, self.opaque, self.feed)

    def kept_frames(self, width: int, height: int) -> int:
        """How many whole width x height frames the kept-frames file holds (0 if none)."""
        try:
            return self.kept.stat().st_size // (width * height * 4)
        except OSError:
            return 0


def fit_files(dst: Path) -> FitFiles:
    """Where the fit measurement of the GIF `dst` keeps its files."""
    names = (*STATS_NAMES, KEPT_NAME, OPAQUE_NAME, FEED_NAME)
    one, each, kept, opaque, feed = (dst.with_name(f"{dst.stem}-{name}") for name in names)
    return FitFiles((one, each), kept, opaque, feed)


def fit_size(width: int, height: int) -> tuple[int, int]:
    """The measuring copy's size for a GIF of width x height."""
    return max(2, width // FIT_DOWNSCALE), max(2, height // FIT_DOWNSCALE)


def samples(count: float) -> list[int]:
    """The frames measured of a GIF of about `count` frames: every n-th (FIT_FRAMES in all, spread
    over the clip), but never the last two, which ffmpeg may write only when the conversion ends
    (jobs.measure feeds the samples as soon as the last one is on disk)."""
    step = max(1, round(count / FIT_FRAMES))
    last = max(0, math.floor(count + 1e-6) - 3)
    return list(range(0, last + 1, step))


def measure_args(files: FitFiles, width: int, height: int) -> list[str]:
    """The measuring run's argv: it reads the sampled frames
    (width x height) from its FIFO, scales them down to fit_size, maps them with one palette and
    with a palette per frame, and psnr writes each way's per-frame error to files.stats. Each way
    in a run of its own ends sooner after the feed (0.21 -> 0.14 s), but the second ffmpeg process
    cost ~0.06 s more CPU a job (+14 % on a 1 s clip), which a busy box pays in throughput."""
    sampled = ffmpeg.input(
        f"file:{files.feed.absolute()}",
        f="rawvideo",
        pix_fmt="bgra",
        video_size=(width, height),  # ffmpeg-python writes a pair as WxH
        framerate=FIT_FRAMES,
        format_whitelist="rawvideo",
        protocol_whitelist="file",
    )
    # the first frame is a warm-up (jobs.measure): it makes ffmpeg set its filters up early
    samples = sampled.filter("trim", start_frame=WARM_UP_FRAMES)
    copies = samples.filter("scale", *fit_size(width, height), flags="area").split()
    measured = []
    for i, (path, mode) in enumerate(zip(files.stats, ("full", "single"), strict=True)):
        pair = copies[2 * i].split()
        palette = pair[1].filter("palettegen", stats_mode=mode)
        extra = {"new": 1} if mode == "single" else {}
        mapped = ffmpeg.filter([pair[0], palette], "paletteuse", dither="none", **extra)
        both = [mapped.filter("format", "bgra"), copies[2 * i + 1]]
        measured.append(ffmpeg.filter(both, "psnr", stats_file=str(path)))
    out = ffmpeg.filter(measured, "hstack", inputs=2).output("-", f="null")  # psnr passes its first input on
    return ffmpeg.compile(out, cmd=list(FFMPEG_QUIET))


def per_frame_gain(stats: tuple[Path, Path]) -> float:
    """How much per-frame palettes cut the mean squared error of one palette (0 if unreadable)."""
    one, each = (_mean_mse(path) for path in stats)
    if one is None or each is None:
        return 0.0
    return one - each


def _mean_mse(path: Path) -> float | None:
    """The mean of psnr's per-frame mse_avg in a stats file, None if missing or empty."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    values = [float(v) for v in _MSE.findall(text)]
    values = [v for v in values if math.isfinite(v)]
    return statistics.fmean(values) if values else None


def rewrite_args(src: Path, dst: Path) -> list[str]:
    """gifsicle's argv: crop each frame of `src` to what changed on screen, write `dst` (lossless)."""
    return [GIFSICLE, "--no-warnings", "-O1", "-o", str(dst), str(src)]


def split_point(frames: int) -> int | None:
    """Where a per-frame-palette GIF of `frames` frames is cut in two parts (None: made whole)."""
    if frames < 2 * PART_MIN_FRAMES or len(os.sched_getaffinity(0)) < 2:
        return None
    return frames // 2


def join_args(parts: tuple[Path, Path], split: int, dst: Path) -> list[str]:
    """rewrite_args for a GIF made in two parts: the first part's frames before `split` (its run
    makes one more, so the last one kept gets the delay the whole GIF gives it), then the second's."""
    first, second = parts
    return [GIFSICLE, "--no-warnings", "-O1", "-o", str(dst), str(first), f"#0-{split - 1}", str(second)]


def repack_args(src: Path, dst: Path) -> list[str]:
    """gifsicle's argv: optimise the one-palette GIF `src` into `dst` with its own choice of changed
    rectangles and transparency (-O2; lossless: every frame shows the same pixels)."""
    return [GIFSICLE, "--no-warnings", "-O2", "-o", str(dst), str(src)]


@dataclass(frozen=True)
class FrameChanges:
    """How a measured conversion's kept frames change from one to the next (frame_changes)."""

    repeats: list[int]  # copies of the frame before: no frame, no palette of their own
    croppable: bool  # a frame kept leaves a whole edge of the one before as it was


def frame_changes(kept: Path, size: tuple[int, int], frames: int) -> FrameChanges:
    """The frames of a kept-frames file (`frames` raw BGRA frames of `size`) that are exact copies
    of the frame before them, but never the first or the last two (the GIF muxer times a frame by
    the next one, and the last one by the delay of the one before it); and whether any frame kept
    leaves its top or bottom row, or its left or right column, as the frame before had it.

    The conversion replaces a near-copy of a frame by an exact copy (jobs.picture's thinning): on
    bench's slideshow 28 of 48 frames. A per-frame palette made for a copy is the palette before it
    (the slideshow then makes 20 palettes instead of 48). Where every frame changes at all four
    edges, gifsicle's crop has nothing to take: it took 0.145 s for 0.02 % of bench's Mandelbrot zoom.
    """
    width, height = size
    stride = width * 4
    repeats: list[int] = []
    croppable = False
    with kept.open("rb") as data:
        before = data.read(stride * height)
        for index in range(1, frames):
            frame = data.read(stride * height)
            if frame == before and index < frames - 2:
                repeats.append(index)
            elif not croppable:
                croppable = _an_edge_kept(before, frame, stride)
            before = frame
    return FrameChanges(repeats, croppable)


def _an_edge_kept(before: bytes, frame: bytes, stride: int) -> bool:
    """Whether `frame` has its first or last row, or first or last column, as `before` had it."""
    last = len(frame) - stride
    if len(frame) != len(before) or frame[:stride] == before[:stride] or frame[last:] == before[last:]:
        return True
    return any(
        all(frame[column + k :: stride] == before[column + k :: stride] for k in range(4))
        for column in (0, stride - 4)
    )


def without_repeats(repeats: Sequence[int]) -> str:
    """select's expression that drops the frames numbered `repeats` (jobs.recipe.per_frame_args)."""
    return "not(" + "+".join(f"between(n,{first},{last})" for first, last in _runs(repeats)) + ")"


def shown_part(part: tuple[int, int | None], repeats: Sequence[int]) -> tuple[int, int | None]:
    """GIF frames first..end-1 counted in the frames left once the `repeats` have no frame."""
    first, end = part
    return shown_before(first, repeats), None if end is None else shown_before(end, repeats)


def shown_before(split: int, repeats: Sequence[int]) -> int:
    """How many GIF frames come before frame `split` once the `repeats` have no frame of their own."""
    return split - sum(r < split for r in repeats)


def _runs(indexes: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted frame numbers as (first, last) runs of consecutive ones."""
    runs: list[tuple[int, int]] = []
    for index in indexes:
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs
