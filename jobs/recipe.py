"""The GIF recipe: what the user asked for, the caps on an input, and the one hardened ffmpeg argv.

Pure: builds strings from numbers, never runs a process or reads a file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ffmpeg

from jobs import framing, overlay, palettes, picture
from jobs.runner import FFMPEG_QUIET

if TYPE_CHECKING:  # probe imports this module; MediaInfo is only a type here
    from jobs.probe import MediaInfo

# Matched against each demuxer's name list: "mov" is mp4/mov/3gp/m4v, "matroska" is mkv/webm,
# "mpegts" is MPEG-TS/M2TS (AVCHD .mts), "mpeg" is MPEG-PS (.mpg, DVD .vob), "asf" is .wmv/.asf,
# "ogg" is .ogv. Each is a plain container that references no other file or URL. Playlist, script,
# manifest, image and device demuxers (hls, concat, dash, image2, *_pipe, tty, lavfi...) cannot
# open at all, so a disguised file is refused before anything is followed.
FORMAT_WHITELIST = "mov,matroska,avi,mpegts,mpeg,flv,asf,ogg"
PROTOCOL_WHITELIST = "file"
VIDEO_STREAM = "V:0"  # the first video stream that is not cover art (probe and convert agree)
# How much a demuxer may read to find its streams (MPEG-TS/PS and FLV announce none in a header):
# bytes and microseconds of input, so a stream-less file cannot make ffprobe read it all.
PROBE_SIZE_BYTES = 5_000_000
ANALYZE_DURATION_US = 5_000_000
INPUT_MARGIN_SECONDS = 1.0  # decode this far past the window so its last frame is complete
PIXEL_BUDGET_RATIO = 9 / 16  # pixel budget = width * width * ratio, i.e. a landscape 16:9 frame
COLOUR_STEP = 4  # the palettes count colours rounded to this step per channel (_rounded)
# Temporal denoising of the GIF-sized frames (hqdn3d's options; no spatial smoothing). A camera's
# grain changes every pixel every frame, so no pixel repeats and nothing can be transparent; damped,
# still areas stay still. See README's Performance section for what it bought.
DENOISE = {"luma_spatial": 0, "chroma_spatial": 0, "luma_tmp": 8, "chroma_tmp": 8}
# The one palette's colours, and each palette's where a GIF takes one per frame (jobs.palettes): the
# point on bench's corpus where bytes and SSIM are as far inside their targets (README, Performance).
MAX_COLORS = 176
PER_FRAME_COLORS = 208
# The one palette counts the colours of every 2nd frame of a GIF of at least PALETTE_STEP_MIN_FRAMES:
# palettegen's histogram is ~3 ms a 480x270 frame on the conversion's one filter thread, before the
# first frame can be mapped. bench's quick corpus: wall -3 %, bytes 0.791 -> 0.789 of gifski's,
# SSIM -0.0044 -> -0.0041 (the palette's colours are no worse; consecutive frames hold nearly the
# same ones). A shorter GIF counts every frame, so no frame of a short clip is left out.
PALETTE_STEP = 2
PALETTE_STEP_MIN_FRAMES = 16
_COLOUR_ROUNDING = f"floor(val/{COLOUR_STEP})*{COLOUR_STEP}+{COLOUR_STEP // 2}"


@dataclass(frozen=True)
class GifOptions:
    """What the user asked for; seconds are source seconds."""

    width: int = 480  # max width; pixel budget width*width*9/16, never upscaled, even dims
    fps: int = 12  # never above the source fps
    max_seconds: float = 30.0  # convert at most this many seconds from `start`
    start: float = 0.0
    end: float | None = None  # optional trim window end
    speed: float = 1.0  # 0.5..2.0
    reverse: bool = False
    meme: overlay.Meme | None = None  # text to draw (files in the attempt's temp dir)
    crop: bool = False  # remove black bars (found by jobs.bars before converting)
    square: bool = False  # centre-crop to a square

    def __post_init__(self) -> None:
        if self.width < 2 or self.fps < 1 or self.max_seconds <= 0 or self.start < 0:
            raise ValueError("GifOptions: width >= 2, fps >= 1, max_seconds > 0, start >= 0")
        if not 0.5 <= self.speed <= 2.0 or (self.end is not None and self.end <= self.start):
            raise ValueError("GifOptions: speed must be 0.5..2.0 and end after start")


Part = tuple[int, int | None] | None  # only GIF frames first..end-1 (to the last if end is None)


@dataclass(frozen=True)
class Palette:
    """How the GIF's palette is made: one for the clip (and maybe the fit files written beside it:
    the kept frames the measurement samples, the GIF without transparency), or one per frame."""

    per_frame: bool = False
    fit: palettes.FitFiles | None = None
    frames: Part = None  # a GIF made in parts: this part's frames


@dataclass(frozen=True)
class Limits:
    """Hard caps for one untrusted input; timeouts are wall-clock seconds per child process."""

    max_pixels: int = 3840 * 2160
    probe_timeout: float = 20.0
    convert_timeout: float = 240.0
    max_output_bytes: int = 50 * 1024 * 1024


def target_size(src_w: int, src_h: int, width: int) -> tuple[int, int]:
    """Return even output dims within `width` and a width*width*9/16 pixel budget, never upscaled."""
    budget = width * width * PIXEL_BUDGET_RATIO
    scale = min(1.0, width / src_w, math.sqrt(budget / (src_w * src_h)))
    return max(2, _even(round(src_w * scale))), max(2, _even(round(src_h * scale)))


def build_convert_args(
    src: Path,
    dst: Path,
    info: MediaInfo,
    options: GifOptions,
    limits: Limits,
    tonemap: bool = True,
    palette: Palette | None = None,
) -> list[str]:
    """Return the full hardened ffmpeg argv that turns `src` into a looping GIF at `dst`.

    `tonemap` False (an ffmpeg without zscale) converts HDR like SDR video. `palette` asks for a
    palette per frame, or for the fit measurement beside the one palette (jobs.palettes), which also
    encodes the GIF without transparency (jobs.gifblocks) and keeps every frame before the palette.
    """
    palette = palette or Palette()
    start, end = source_window(info, options)
    width, height = target_size(info.width, info.height, options.width)
    count = (end - start) / options.speed * output_fps(info, options)  # the GIF's frames, about
    video = scaled_frames(src, info, options, limits, (width, height), tonemap)
    if palette.frames is not None:  # every frame as the whole GIF has it, then only this part's
        video = _part(video, palette.frames)
    frames = video.split()
    gif = _paletted(frames[1], frames[0], palette.per_frame, count)
    rate = output_fps(info, options)
    if palette.fit is None:
        out = _gif_output(gif, dst, rate)
    else:  # also encoded without transparency: jobs.gifblocks keeps the shorter of each frame
        both = gif.split()
        opaque = _gif_output(both[1], palette.fit.opaque, rate, gifflags="-transdiff")
        out = ffmpeg.merge_outputs(_gif_output(both[0], dst, rate), opaque)
        # every frame as it is (the graph's nominal rate is not theirs after a speed change), for
        # the measurement (jobs.measure) and the per-frame runs
        kept = frames[2].output(
            file_url(palette.fit.kept), f="rawvideo", pix_fmt="bgra", fps_mode="passthrough"
        )
        out = ffmpeg.merge_outputs(out, kept)
    return ffmpeg.compile(out, cmd=[*FFMPEG_QUIET, "-progress", "pipe:1"])


def per_frame_args(
    kept: Path, dst: Path, size: tuple[int, int], rate: float, part: Part, repeats: list[int]
) -> list[str]:
    """The argv of a GIF with a palette per frame made from the frames a measured conversion kept
    (raw BGRA at `kept`, each `size`, at `rate` a second): no decoding, scaling or denoising again,
    and the same pixels and times as build_convert_args(palette=Palette(True, frames=part)) gives.
    The `repeats` (palettes.frame_changes) get no frame: the frame before is shown longer."""
    raw = {"f": "rawvideo", "pix_fmt": "bgra", "format_whitelist": "rawvideo"}
    frames = ffmpeg.input(
        file_url(kept), video_size=size, framerate=_num(rate), protocol_whitelist=PROTOCOL_WHITELIST, **raw
    )
    if repeats:  # select numbers the frames of the whole GIF; trim then counts the ones left
        frames = frames.filter("select", palettes.without_repeats(repeats))
    if part is not None:
        frames = _part(frames, palettes.shown_part(part, repeats))
    pair = frames.split()
    gif = _paletted(pair[1], pair[0], True, 0)
    return ffmpeg.compile(_gif_output(gif, dst, rate), cmd=list(FFMPEG_QUIET))


def _gif_output(gif: Any, dst: Path, rate: float, **encoder: str) -> Any:
    """The looping GIF file `dst` of the paletted stream `gif`, whose frames are `rate` a second
    (`encoder`: more GIF encoder options)."""
    # The frames are evenly spaced already; after a speed change the graph's nominal rate (the fps
    # filter's) is not theirs, and the encoder's time base would follow it and round their times,
    # so the time base is set to theirs (ffmpeg 6.1 and later refuse `-r` beside passthrough).
    # The muxer times a frame by the next one; the last, by its duration in ffmpeg 9, which setpts
    # leaves as the source had it (a 2x GIF's last frame stayed twice as long): one frame's, in cs.
    last = max(1, round(100 / rate))
    timing = {"final_delay": last, "enc_time_base": f"1/{_num(rate)}", "fps_mode": "passthrough"}
    return gif.output(file_url(dst), f="gif", loop=0, **timing, **encoder)


def _part(frames: Any, part: tuple[int, int | None]) -> Any:
    """Only the frames first..end-1 of `frames` (to the last if end is None)."""
    first, end = part
    return frames.filter("trim", start_frame=first, **({} if end is None else {"end_frame": end}))


def _paletted(frames: Any, stats: Any, per_frame: bool, count: float) -> Any:
    """`frames` mapped to a palette made from `stats`: one for the clip (from every PALETTE_STEP-th
    frame of a GIF of about `count` frames, if that is long), or one per frame."""
    if per_frame:  # each frame its own palette (jobs.palettes); no rectangle diff across palettes
        palette = _rounded(stats).filter("palettegen", stats_mode="single", max_colors=PER_FRAME_COLORS)
        return ffmpeg.filter([frames, palette], "paletteuse", dither="none", new=1)
    # No dithering: error diffusion costs ~30 % of the time and shimmers from frame to frame; bayer
    # (scale 5) made GIFs ~5 % bigger at a lower SSIM on bench's corpus, since the grain that is left
    # dithers by itself. diff_mode=rectangle and the GIF's LZW keep still areas cheap.
    # stats_mode=diff scored lower (starves a still background of colours), so the palette is full.
    if count >= PALETTE_STEP_MIN_FRAMES:
        stats = stats.filter("framestep", step=PALETTE_STEP)
    palette = _rounded(stats).filter("palettegen", max_colors=MAX_COLORS)
    return ffmpeg.filter([frames, palette], "paletteuse", dither="none", diff_mode="rectangle")


def _rounded(stats: Any) -> Any:
    """`stats` rounded to COLOUR_STEP a channel for palettegen: its time grows with the distinct
    colours, and a camera's grain makes nearly every pixel distinct (unrounded: ~85 % of a
    conversion). Rounding the frames mapped too gave bigger GIFs at a lower SSIM under ffmpeg 9."""
    return stats.filter("lutrgb", r=_COLOUR_ROUNDING, g=_COLOUR_ROUNDING, b=_COLOUR_ROUNDING)


def scaled_frames(
    src: Path, info: MediaInfo, options: GifOptions, limits: Limits, size: tuple[int, int], tonemap: bool
) -> Any:
    """The window's frames as `size` square-pixel SDR RGB, cropped (info.crop), sped up, reversed and
    with the words drawn as asked: the common head of the GIF and the sticker graphs."""
    start, end = source_window(info, options)
    stream = ffmpeg.input(file_url(src), t=_num(end + INPUT_MARGIN_SECONDS), **input_hardening(limits))
    stream = stream[VIDEO_STREAM]
    video = _sampled(picture.deinterlace(stream, info.picture), info, options, start, end)
    video = framing.crop_step(video, info.crop)  # before the scale: the bars never reach the GIF
    if options.speed != 1.0:  # in microseconds: the fps filter's 1/rate time base would round PTS/1.5
        video = video.filter("settb", "AVTB").filter("setpts", f"PTS/{_num(options.speed)}")
    video = picture.to_display(
        video, info.picture, *size, tonemap, DENOISE, _thin_rate(info, options, start, end)
    )
    if options.reverse:  # after the scale: it holds every frame, so only GIF-sized ones
        video = video.filter("reverse")
    if options.meme is not None:  # on the GIF-sized frames, so the text is as sharp as the GIF allows
        video = overlay.draw(video, options.meme, *size)
    return video


def _sampled(video: Any, info: MediaInfo, options: GifOptions, start: float, end: float) -> Any:
    """The frames of the window, evenly spaced at the sample rate and starting at zero."""
    rate = _sample_fps(info, options)
    if info.still:  # one picture: the fps filter would drop it (it times a frame by the next one)
        video = video.filter("trim", end_frame=1)
    elif end - start < 1 / rate:  # a window shorter than one GIF frame
        # trim counts end_frame from the stream's first frame, not from `start`: a second trim
        video = video.filter("trim", start=_num(start)).filter("trim", end_frame=1)
    else:  # fps before trim (DESIGN.md): thin frames on the source clock, then cut an evenly spaced stream
        video = video.filter("fps", fps=_num(rate)).filter("trim", start=_num(start), end=_num(end))
    return video.filter("setpts", "PTS-STARTPTS")


def _thin_rate(info: MediaInfo, options: GifOptions, start: float, end: float) -> float | None:
    """The frame rate at which near-copies of a frame are replaced by exact ones, or None for none.

    Not for a single frame (the fps filter would drop it) nor after a speed change, where the
    frames' times are no longer on a plain 1/rate grid.
    """
    if info.still or options.speed != 1.0 or end - start < 1 / _sample_fps(info, options):
        return None
    return _sample_fps(info, options)


def source_window(info: MediaInfo, options: GifOptions) -> tuple[float, float]:
    """Return the source seconds (start, end) to convert, capped at max_seconds."""
    wanted_end = info.duration if options.end is None else min(options.end, info.duration)
    return options.start, min(wanted_end, options.start + options.max_seconds)


def output_fps(info: MediaInfo, options: GifOptions) -> float:
    """Return the GIF's frame rate after the speed change."""
    return _sample_fps(info, options) * options.speed


def input_hardening(limits: Limits, capped: bool = True) -> dict[str, str]:
    """Return the input options shared by ffmpeg and ffprobe (the decoders' pixel cap if `capped`)."""
    # Decoders check the stride-aligned width (2160 -> 2176), so the cap gets 1/8 headroom;
    # probe() enforces the exact max_pixels from the header.
    pixels = {"max_pixels": str(limits.max_pixels * 9 // 8)} if capped else {}
    return {
        "format_whitelist": FORMAT_WHITELIST,
        "protocol_whitelist": PROTOCOL_WHITELIST,
        "probesize": str(PROBE_SIZE_BYTES),
        "analyzeduration": str(ANALYZE_DURATION_US),
        **pixels,
    }


def file_url(path: Path) -> str:
    """Return `path` as an explicit file: URL so no name is read as a protocol or option."""
    return "file:" + str(path.absolute())


def _sample_fps(info: MediaInfo, options: GifOptions) -> float:
    """Return the rate at which source frames are taken: fps/speed, never above the source.

    At 2x one GIF second shows two source seconds, so half as many source frames a second are taken.
    """
    wanted = options.fps / options.speed
    return min(wanted, info.fps) if info.fps > 0 else wanted


def _num(value: float) -> str:
    """Format a number for a filter argument without float noise."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _even(value: int) -> int:
    """Round `value` down to an even number."""
    return value - value % 2
