"""What this box's ffmpeg can do: which video codecs it decodes, which filters it has, and whether
its ffprobe can write to a file.

Asked once per process (the worker asks before forking, so every work horse starts knowing).
"""

from __future__ import annotations

import functools
import logging

from jobs.runner import FFMPEG, FFPROBE, FFmpegFailed, run

log = logging.getLogger(__name__)

LIST_TIMEOUT_S = 20.0
TONEMAP_FILTERS = ("zscale", "tonemap")  # HDR -> SDR needs both (zscale is libzimg)


def decodes(codec_name: str) -> bool:
    """Tell whether this ffmpeg has a decoder for the video codec `codec_name` (ffprobe's name).

    If ffmpeg could not list its decoders, say yes: decoding the first packets will tell.
    """
    known = video_decoders()
    return codec_name in known or not known


def can_tonemap() -> bool:
    """Tell whether HDR can be tone-mapped here (else it is converted as if SDR: washed out)."""
    return all(name in filters() for name in TONEMAP_FILTERS)


@functools.cache
def video_decoders() -> frozenset[str]:
    """The codec names (as ffprobe reports them) that some video decoder of this ffmpeg handles."""
    names = set()
    for flags, name, rest in _listing("-decoders"):
        if flags.startswith("V"):
            # "libdav1d  dav1d AV1 decoder by VideoLAN (codec av1)": the codec is named when it differs
            _, marker, codec = rest.rpartition("(codec ")
            names.add(codec.rstrip(")").strip() if marker else name)
    return frozenset(names)


@functools.cache
def filters() -> frozenset[str]:
    """The names of this ffmpeg's filters."""
    found = frozenset(name for _flags, name, _rest in _listing("-filters"))
    missing = [name for name in TONEMAP_FILTERS if name not in found]
    if missing:
        log.warning("ffmpeg has no %s filter: HDR video will be converted without tone mapping", missing)
    return found


@functools.cache
def ffprobe_writes_to_file() -> bool:
    """Tell whether this ffprobe has `-o` (FFmpeg 5.0 and later), which warm.Warm relies on; an
    older one is started when its run comes, as before."""
    lines: list[str] = []
    try:
        run([FFPROBE, "-hide_banner", "-h"], LIST_TIMEOUT_S, lines.append)
    except FFmpegFailed:
        return False
    return any(line.startswith("-o ") for line in lines)


def warm_up() -> None:
    """Ask ffmpeg now (in the worker, before forking) so no job pays for it."""
    video_decoders()
    filters()
    ffprobe_writes_to_file()


def _listing(flag: str) -> list[tuple[str, str, str]]:
    """The (flags, name, rest) rows of `ffmpeg -decoders` or `-filters`, after its legend."""
    lines: list[str] = []
    try:
        run([FFMPEG, "-hide_banner", flag], LIST_TIMEOUT_S, lines.append)
    except FFmpegFailed:
        log.exception("ffmpeg %s failed; assuming it has nothing to list", flag)
        return []
    rows = []
    for line in lines[next((i + 1 for i, s in enumerate(lines) if s.strip().startswith("---")), 0) :]:
        parts = line.split(None, 2)
        if len(parts) >= 2:
            rows.append((parts[0], parts[1], parts[2] if len(parts) > 2 else ""))
    return rows
