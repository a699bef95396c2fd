"""Video stickers: the GIF's frames as a WebM VP9 within Telegram's caps, fitted by bitrate.

Telegram's rules for a video sticker: WebM with VP9, no sound, one side exactly 512 px and the other
at most 512, at most 3 s and 30 frames a second, at most 256 KB. A longer window gives its first
3 s (of sticker time: 3 * speed seconds of the video).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import ffmpeg

from core.errors import GifTooBig
from jobs import fit, recipe
from jobs.probe import MediaInfo
from jobs.progress import Progress
from jobs.recipe import GifOptions, Limits
from jobs.runner import FFMPEG_QUIET
from jobs.warm import Later, Warm

logger = logging.getLogger(__name__)

SIDE = 512
MAX_SECONDS = 3.0
MAX_FPS = 30
MAX_BYTES = 256 * 1024
# Aim this far under the cap; what still overshoots is encoded again, at a bitrate lowered in
# proportion. Rate control is CBR with a half-second buffer: on 3 s of busy noise, VBR and
# constrained quality (-crf with -b:v) overshot the bitrate by ~55 %, CBR by ~3 %.
SIZE_SAFETY = 0.85
BUFFER_SECONDS = 0.5
MAX_ATTEMPTS = 3
# Realtime at cpu-used 8: ~10x less CPU than "good" at cpu-used 4 for -0.002 SSIM on a test pattern
# (-0.02 on pure noise) at the same bitrate, 512x288 at 12 fps.
ENCODER = {"deadline": "realtime", "cpu-used": 8, "row-mt": 1}
COLOUR_TAGS = {"colorspace": "bt709", "color_primaries": "bt709", "color_trc": "bt709", "color_range": "tv"}


def sticker_options(options: GifOptions) -> GifOptions:
    """The asked options within a sticker's length and frame rate."""
    seconds = min(options.max_seconds, MAX_SECONDS * options.speed)
    return replace(options, max_seconds=seconds, fps=min(options.fps, MAX_FPS))


def sticker_size(width: int, height: int) -> tuple[int, int]:
    """The long side SIDE (small videos are scaled up), the other in proportion, even, at least 2."""
    short = min(width, height) * SIDE / max(width, height)
    other = min(SIDE, max(2, round(short / 2) * 2))
    return (SIDE, other) if width >= height else (other, SIDE)


def build_sticker_args(
    src: Path,
    dst: Path,
    info: MediaInfo,
    options: GifOptions,
    limits: Limits,
    tonemap: bool = True,
    bitrate: int = 600_000,
) -> list[str]:
    """Return the hardened ffmpeg argv writing the sticker (VP9 at `bitrate` bit/s at most) to `dst`."""
    frames = recipe.scaled_frames(src, info, options, limits, sticker_size(info.width, info.height), tonemap)
    video = frames.filter("scale", out_color_matrix="bt709", out_range="tv").filter("format", "yuv420p")
    out = video.output(
        recipe.file_url(dst),
        f="webm",
        vcodec="libvpx-vp9",
        minrate=bitrate,
        maxrate=bitrate,
        bufsize=int(bitrate * BUFFER_SECONDS),
        # the encoder's time base is the frames' rate (as in recipe._gif_output; ffmpeg 6.1 and later
        # refuse `-r` beside passthrough), and libvpx's rate control times the frames by it
        enc_time_base=f"1/{recipe.output_fps(info, options):.3f}",
        fps_mode="passthrough",
        t=MAX_SECONDS,
        **{"b:v": bitrate, **ENCODER, **COLOUR_TAGS},
    )
    return ffmpeg.compile(out, cmd=[*FFMPEG_QUIET, "-progress", "pipe:1"])


def convert(
    src: Path,
    dst: Path,
    options: GifOptions,
    limits: Limits,
    progress: Callable[[float], None] | None = None,
    cap: int = MAX_BYTES,
    warm: Warm | None = None,
) -> fit.GifResult:
    """Probe `src` (with the ffprobe runs `warm` holds, if any) and write a video sticker to `dst`,
    lowering the bitrate until it is under `cap` bytes; GifTooBig if it still is not."""
    asked = sticker_options(options)

    def make(later: Later) -> fit.GifResult:
        return _convert(src, dst, asked, limits, progress, cap, fit.prepare(src, asked, limits, warm, later))

    return fit.probed(dst, make)


def _convert(
    src: Path,
    dst: Path,
    asked: GifOptions,
    limits: Limits,
    progress: Callable[[float], None] | None,
    cap: int,
    info: MediaInfo,
) -> fit.GifResult:
    """convert() once `src` is probed."""
    start, end = recipe.source_window(info, asked)
    seconds = (end - start) / asked.speed
    bitrate = int(cap * 8 * SIZE_SAFETY / max(seconds, 0.1))
    report, ran = Progress(progress), [0.0, 0.0]
    for _ in range(MAX_ATTEMPTS):
        build = functools.partial(build_sticker_args, bitrate=bitrate)
        size, *took = fit.convert_once(src, dst, info, asked, limits, report, build)
        ran = [a + b for a, b in zip(ran, took, strict=True)]
        if size <= cap:
            break
        logger.info("sticker is %d bytes, over %d: encoding again under %d bit/s", size, cap, bitrate)
        bitrate = int(bitrate * cap * SIZE_SAFETY / size)
    else:
        dst.unlink(missing_ok=True)
        raise GifTooBig(f"sticker still {size} bytes after {MAX_ATTEMPTS} tries (cap {cap})")
    report(1.0)
    width, height = sticker_size(info.width, info.height)
    return fit.GifResult(
        dst, width, height, recipe.output_fps(info, asked), seconds, size, False, False, *ran
    )
