"""Probe an untrusted upload with a hardened ffprobe: refuse what is not a plain video, describe the rest."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import (
    AudioOnly,
    BrokenVideo,
    Encrypted,
    NotAVideo,
    TooLarge,
    UnsupportedCodec,
    UserFacingError,
)
from jobs import picture, toolbox
from jobs.framing import Box
from jobs.picture import Picture
from jobs.probefields import frame_rate, frames_of, is_video, looks_like_container, number, rotated
from jobs.recipe import FORMAT_WHITELIST, VIDEO_STREAM, Limits, file_url, input_hardening
from jobs.runner import FFPROBE, FFmpegFailed, run
from jobs.warm import Later, Running, Warm

PROBE_PACKETS = 12  # packets read to prove the stream yields a frame (first may not be a key)
# Demuxers whose header has no streams (MPEG-PS, FLV: they appear while packets are read) or only a
# guessed duration (MPEG-TS): they are read for stream info, pixel-capped, within recipe's
# PROBE_SIZE_BYTES and ANALYZE_DURATION_US.
STREAM_INFO_FORMATS = frozenset({"mpeg", "flv", "mpegts"})
_DECODED = (
    "stream=width,height,avg_frame_rate,r_frame_rate,field_order,sample_aspect_ratio,pix_fmt,"
    "color_range,color_space,color_transfer,color_primaries"
    ":frame=width,height,sample_aspect_ratio,pix_fmt,interlaced_frame,"
    "color_range,color_space,color_transfer,color_primaries"
    ":packet=flags:packet_side_data=side_data_type"
)
# probe()'s two runs: the container's header, and the first packets decoded.
_HEADER_ARGS = ("-nofind_stream_info", "-show_format", "-show_streams")
_ALL_FRAMES_ARGS = (
    "-select_streams",
    VIDEO_STREAM,
    "-read_intervals",
    f"%+#{PROBE_PACKETS}",
    "-show_entries",
    _DECODED,
)
# Only their key frames are decoded (1080p phone H.264: 70 -> 20 ms, HEVC 10-bit 120 -> 19 ms; README,
# Performance); a stream with no key frame among them is decoded whole (_ALL_FRAMES_ARGS), as before.
_DECODE_ARGS = ("-skip_frame", "nokey", *_ALL_FRAMES_ARGS)
_JSON = ("-of", "json")


@dataclass(frozen=True)
class MediaInfo:
    """A probed input; width/height are the display size (pixel shape, rotation and `crop` applied)."""

    width: int
    height: int
    duration: float
    fps: float  # 0.0 if unknown
    format_name: str
    codec_name: str
    has_audio: bool
    picture: Picture = field(default_factory=Picture)
    still: bool = False  # the video stream holds a single picture
    crop: Box | None = None  # the part of each decoded frame to keep (jobs.framing); None: all of it


def warm_up(src: Path, limits: Limits, warm: Warm) -> None:
    """Start probe()'s two ffprobe runs on `src` before it exists (they wait: see warm.Warm)."""
    if not toolbox.ffprobe_writes_to_file():
        return
    for argv in _warm_argvs(src, limits):
        warm.start(argv)


def held(src: Path, limits: Limits, warm: Warm) -> bool:
    """Whether `warm` holds both of probe()'s runs on `src` already (warm_up() would start none)."""
    return all(warm.holds(argv) for argv in _warm_argvs(src, limits))


def _warm_argvs(src: Path, limits: Limits) -> list[list[str]]:
    """probe()'s two runs on `src`: the header's and the first packets' decode."""
    return [
        _argv(src, limits, (*_HEADER_ARGS, *_JSON), capped=False),
        _argv(src, limits, (*_DECODE_ARGS, *_JSON), capped=True),
    ]


def probe(src: Path, limits: Limits, warm: Warm | None = None, later: Later | None = None) -> MediaInfo:
    """Check that `src` is a video we accept and describe it, or raise a UserFacingError.

    Runs started ahead by warm_up() are used when `warm` holds them. With `later`, a run whose
    whole output came is not waited for to exit (~4 ms an ffprobe): its check goes to `later`."""
    if src.stat().st_size == 0:
        raise BrokenVideo("empty file")
    # The first frames decode (hardened and pixel-capped, like every ffprobe run) while the header is
    # read, so the two ffprobe starts (each loads ffmpeg's ~200 shared libraries) overlap. The header's
    # verdicts still come first; the decode's result is looked at only once the header passed.
    mine = Later()
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="probe") as pool:
            decoded = pool.submit(_decode_first, src, limits, warm, mine)
            info = _describe(src, limits, _header(src, limits, warm, mine), decoded)
    except Exception:
        mine.settle()  # a run that failed is the first news, as when each was waited for
        raise
    if later is None:
        mine.settle()
    else:
        later.add(0, mine.settle)
    return info


def _describe(src: Path, limits: Limits, header: dict[str, Any], decoded: Future[Decoded]) -> MediaInfo:
    """Check the header's streams, then the decoded first frames, and describe the video."""
    streams = header.get("streams") or []
    format_name = str((header.get("format") or {}).get("format_name", ""))
    video = next((s for s in streams if is_video(s)), None)
    if video is None:
        if any(s.get("codec_type") == "audio" for s in streams):
            raise AudioOnly(f"sound only, in {format_name}")
        raise NotAVideo(f"no video stream in {format_name or 'unknown format'}")
    codec_name = str(video.get("codec_name") or "")
    if codec_name in ("", "unknown", "none") or not toolbox.decodes(codec_name):
        raise UnsupportedCodec(f"no decoder for {codec_name or video.get('codec_tag_string')}")
    _check_pixels(video, limits)
    stream, frames, packets = decoded.result()
    _check_pixels(stream, limits)
    width = int(frames[0].get("width") or video.get("width") or 0)  # some headers leave it 0 (H.263)
    height = int(frames[0].get("height") or video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise BrokenVideo("a frame without a size")
    _check_pixels({"width": width, "height": height}, limits)
    look = picture.describe(stream, frames, height)
    display = rotated(*picture.display_size(width, height, look.sar), video)
    duration = number((header.get("format") or {}).get("duration")) or number(video.get("duration"))
    duration = duration or _packet_duration(src, limits)  # e.g. a WebM recorded in a browser
    if duration <= 0:
        raise BrokenVideo("no duration")
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    fps = frame_rate(stream)
    still = packets == 1  # one picture, however long the file (a song with its cover, say)
    return MediaInfo(*display, duration, fps, format_name, codec_name, has_audio, look, still)


def _header(
    src: Path, limits: Limits, warm: Warm | None = None, later: Later | None = None
) -> dict[str, Any]:
    """Read the container's header: its format and streams; refuse a format off the whitelist."""

    def failed(exc: FFmpegFailed) -> UserFacingError:
        kind = BrokenVideo if looks_like_container(src) else NotAVideo
        return kind("ffprobe could not open the input")

    # headers only, uncapped: nothing is decoded, and the cap would hide the size to check
    header = _early_json(src, limits, _HEADER_ARGS, False, warm, later, 0, failed)
    names = set(str((header.get("format") or {}).get("format_name", "")).split(","))
    if not names & set(FORMAT_WHITELIST.split(",")):
        raise NotAVideo(f"{names} is not a whitelisted container")
    if names & STREAM_INFO_FORMATS:  # their header durations are estimates, and some have no streams
        try:  # streams are found by reading packets: pixel-capped, bounded by probesize
            header = _ffprobe_json(src, limits, "-show_format", "-show_streams")
        except FFmpegFailed as exc:  # over the cap is the first news of the size (no header had it)
            kind = TooLarge if exc.over_pixel_cap else BrokenVideo
            raise kind("ffprobe could not find the streams", max_pixels=limits.max_pixels) from exc
    return header


Decoded = tuple[dict[str, Any], list[dict[str, Any]], int]


def _decode_first(src: Path, limits: Limits, warm: Warm | None = None, later: Later | None = None) -> Decoded:
    """Decode the key frames of the first packets (pixel-capped; all of them if none is a key
    frame) to prove frames come out. Return the stream, its frames and how many packets it had
    (fewer than PROBE_PACKETS: all of them)."""

    def failed(exc: FFmpegFailed) -> UserFacingError:
        return BrokenVideo("the video stream does not decode")

    data = _early_json(src, limits, _DECODE_ARGS, True, warm, later, 1, failed)
    if not frames_of(data):  # no key frame early on (a stream cut mid-GOP, say)
        if later is not None:
            later.settle(order=1)  # this run's own failure first
        try:
            data = _ffprobe_json(src, limits, *_ALL_FRAMES_ARGS)
        except FFmpegFailed as exc:
            raise failed(exc) from exc
    both = data.get("packets_and_frames") or []
    packets = data.get("packets") or [item for item in both if item.get("type") == "packet"]
    frames = frames_of(data)
    if any(
        side.get("side_data_type") == "Encryption info"
        for packet in packets
        for side in packet.get("side_data_list") or []
    ):
        raise Encrypted("packets carry encryption info")
    if not frames:
        raise BrokenVideo("no frame decoded")
    return (data.get("streams") or [{}])[0], frames, len(packets)


def _check_pixels(stream: dict[str, Any], limits: Limits) -> None:
    """Refuse a picture over the pixel cap (a size still unknown passes, to be decoded capped)."""
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    if width * height > limits.max_pixels:
        raise TooLarge(f"{width}x{height}", max_pixels=limits.max_pixels)


def _argv(src: Path, limits: Limits, args: tuple[str, ...], capped: bool) -> list[str]:
    """The hardened ffprobe argv for `args` on `src` (no -nostdin: its stdin is /dev/null anyway)."""
    flags = [part for key, value in input_hardening(limits, capped).items() for part in (f"-{key}", value)]
    return [FFPROBE, "-hide_banner", "-loglevel", "error", *flags, *args, file_url(src)]


def _ffprobe(
    src: Path,
    limits: Limits,
    args: tuple[str, ...],
    on_line: Callable[[str], None],
    capped: bool,
    warm: Warm | None = None,
) -> None:
    """Run a hardened ffprobe on `src` (the one warm holds for the same argv, if any)."""
    run(_argv(src, limits, args, capped), limits.probe_timeout, on_line, warm=warm)


def _ffprobe_json(
    src: Path, limits: Limits, *args: str, capped: bool = True, warm: Warm | None = None
) -> dict[str, Any]:
    """Run a hardened ffprobe with `args` and return its parsed JSON output."""
    lines: list[str] = []
    _ffprobe(src, limits, (*args, *_JSON), lines.append, capped, warm)
    return _json(lines)


def _early_json(
    src: Path,
    limits: Limits,
    args: tuple[str, ...],
    capped: bool,
    warm: Warm | None,
    later: Later | None,
    order: int,
    failed: Callable[[FFmpegFailed], UserFacingError],
) -> dict[str, Any]:
    """_ffprobe_json(), failing with failed(its FFmpegFailed); with `later`, the JSON is taken as
    soon as ffprobe closed its output, and its exit is checked when `later` settles."""
    if later is None:
        try:
            return _ffprobe_json(src, limits, *args, capped=capped, warm=warm)
        except FFmpegFailed as exc:
            raise failed(exc) from exc
    running = Running(_argv(src, limits, (*args, *_JSON), capped), limits.probe_timeout, warm)

    def check() -> list[str]:
        try:
            return running.settle()
        except FFmpegFailed as exc:
            raise failed(exc) from exc

    lines = running.output()
    try:
        data = json.loads("\n".join(lines or ()))
    except ValueError:  # no whole output (the run failed, or printed nothing): its own verdict first
        return _json(check())
    later.add(order, check)
    return data if isinstance(data, dict) else {}


def _json(lines: list[str]) -> dict[str, Any]:
    """ffprobe's JSON output as a dict (empty if it printed another JSON value)."""
    try:
        data = json.loads("\n".join(lines))
    except ValueError as exc:
        raise BrokenVideo("ffprobe printed no JSON") from exc
    return data if isinstance(data, dict) else {}


def _packet_duration(src: Path, limits: Limits) -> float:
    """Return the video's end time from its packet timestamps (for files without a duration)."""
    end = [0.0]

    def on_line(line: str) -> None:
        """Keep the latest end (pts + duration) of the packets seen so far."""
        times = [number(part) for part in line.split(",")[:2]]
        end[0] = max(end[0], sum(times))

    args = ("-select_streams", VIDEO_STREAM, "-show_entries", "packet=pts_time,duration_time")
    args += ("-of", "csv=p=0")
    try:
        _ffprobe(src, limits, args, on_line, capped=True)
    except FFmpegFailed as exc:
        raise BrokenVideo("cannot read packets") from exc
    return end[0]
