"""The picture as it is meant to be seen: pixel shape, colour and scan of a probed video stream, and
the filter steps that turn it into progressive, square-pixel, SDR BT.709 RGB at the GIF's size.

Pure: reads ffprobe's JSON fields and builds ffmpeg-python filter nodes, never runs a process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# ffprobe's field_order values for interlaced video (top or bottom field first, coded either way).
INTERLACED_ORDERS = frozenset({"tt", "bb", "tb", "bt"})
SAR_RANGE = (0.25, 4.0)  # a sample aspect ratio outside this is garbage: pixels are taken as square
HD_HEIGHT = 720  # untagged video this tall or taller is BT.709, smaller is BT.601 (as players assume)
# ffprobe's colour matrix names -> the scale filter's in_color_matrix (unknown: guessed by height).
MATRICES = {
    "bt709": "bt709",
    "smpte170m": "bt601",
    "bt470bg": "bt601",
    "fcc": "fcc",
    "smpte240m": "smpte240m",
    "bt2020nc": "bt2020",
    "bt2020c": "bt2020",
}
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})  # PQ (HDR10) and HLG
PRIMARIES = {"bt709": "709", "bt2020": "2020", "smpte432": "smpte432", "smpte431": "smpte431"}
ZSCALE_MATRICES = {"bt709": "709", "bt601": "170m", "bt2020": "2020_ncl"}  # of HDR input; else 2020_ncl
# Tone mapping (zscale + tonemap): linear light is scaled so HDR reference white (BT.2408: 203 nits,
# where phones put SDR white) becomes SDR white; mobius keeps everything below TONEMAP_KNEE of it
# as it is and rolls the highlights up to HDR_PEAK_NITS (HLG's nominal peak, and what most HDR10
# is mastered to) smoothly into the rest. On tests/test_colour.py's clips a knee of 0.8 kept the
# mean CIEDE2000 to the SDR master at ~4 where hable or reinhard darkened it to 12-21.
REFERENCE_WHITE_NITS = 203
HDR_PEAK_NITS = 1000
TONEMAP_KNEE = 0.8
# mpdecimate's thresholds for a near copy (its defaults: lo=320, frac=0.33, per 8x8 block SAD): half
# the blocks may differ by up to 512. bench's corpus: gradient-noise 0.53 -> 0.41x gifski's bytes,
# the portrait pan 0.81 -> 0.79x, at -0.0007 / -0.0003 SSIM; the rest unchanged.
NEAR_COPY = {"lo": 512, "frac": 0.5}


@dataclass(frozen=True)
class Picture:
    """How a decoded frame is to be shown; the defaults describe plain square-pixel SDR video."""

    sar: float = 1.0  # width of one stored pixel over its height
    matrix: str = "bt709"  # YUV->RGB matrix, in the scale filter's words
    full_range: bool = False  # 0-255 YUV (JPEG, yuvj*) instead of 16-235
    transfer: str = ""  # "smpte2084" or "arib-std-b67" for HDR, "" for SDR
    primaries: str = "2020"  # of an HDR stream, in zscale's words
    interlaced: bool = False

    @property
    def hdr(self) -> bool:
        """Whether the stream is HDR (PQ or HLG) and needs tone mapping for a GIF."""
        return self.transfer in HDR_TRANSFERS


def describe(stream: dict[str, Any], frames: list[dict[str, Any]], height: int) -> Picture:
    """Read a Picture from ffprobe's stream and decoded frames; the frames' own fields win."""
    first = frames[0] if frames else {}

    def field(name: str) -> str:
        """A colour field of the first frame, else of the stream ('' if unknown)."""
        value = str(first.get(name) or stream.get(name) or "")
        return "" if value in ("unknown", "unspecified", "reserved") else value

    pix_fmt = str(first.get("pix_fmt") or stream.get("pix_fmt") or "")
    sar = aspect(first.get("sample_aspect_ratio")) or aspect(stream.get("sample_aspect_ratio")) or 1.0
    flagged = sum(int(f.get("interlaced_frame") or 0) for f in frames)
    transfer = field("color_transfer") if field("color_transfer") in HDR_TRANSFERS else ""
    guess = "bt2020" if transfer else "bt709" if height >= HD_HEIGHT else "bt601"
    return Picture(
        sar=sar,
        matrix=MATRICES.get(field("color_space"), guess),
        full_range=field("color_range") == "pc" or pix_fmt.startswith("yuvj"),
        transfer=transfer,
        primaries=PRIMARIES.get(field("color_primaries"), "2020"),
        interlaced=stream.get("field_order") in INTERLACED_ORDERS or flagged * 2 > len(frames) > 0,
    )


def aspect(value: object) -> float:
    """Parse a sample aspect ratio like '64:45'; 0.0 if missing, undefined or out of SAR_RANGE."""
    num, _, den = str(value or "").partition(":")
    try:
        ratio = float(num) / float(den)
    except (ValueError, ZeroDivisionError):
        return 0.0
    return ratio if math.isfinite(ratio) and SAR_RANGE[0] <= ratio <= SAR_RANGE[1] else 0.0


def display_size(width: int, height: int, sar: float) -> tuple[int, int]:
    """The stored size stretched by the pixel shape: the height stays, the width follows."""
    return max(1, round(width * sar)), height


def deinterlace(video: Any, picture: Picture) -> Any:
    """Weave each frame's fields into a whole picture (one frame per frame) if the stream is interlaced.

    Runs first, at the source rate: bwdif needs the neighbouring frames of every field.
    """
    if not picture.interlaced:
        return video
    return video.filter("bwdif", mode="send_frame", parity="auto", deint="all")


def to_display(
    video: Any,
    picture: Picture,
    width: int,
    height: int,
    tonemap: bool = True,
    denoise: dict[str, float] | None = None,
    thin: float | None = None,
) -> Any:
    """Scale to width x height square pixels and convert to SDR BT.709 RGB (bgra, as paletteuse wants).

    `denoise` (hqdn3d's options) filters the scaled frames while they are still YUV; `thin` (a frame
    rate) then repeats the last frame in place of any that barely differ from it. Without
    `tonemap` (no zscale in this ffmpeg) HDR is converted like SDR video: right shape, washed out
    colours.
    """
    if picture.hdr and tonemap:
        video = _tone_mapped(video.filter("scale", width, height, flags="lanczos"), picture)
        if denoise:  # hqdn3d takes planar YUV only
            video = _thinned(video.filter("format", "yuv444p").filter("hqdn3d", **denoise), thin)
        return video.filter("format", "bgra").filter("setsar", "1")
    matrix = {"in_color_matrix": picture.matrix, "in_range": "pc" if picture.full_range else "tv"}
    if not denoise:
        video = video.filter("scale", width, height, flags="lanczos", **matrix)
    else:  # in the source's own YUV and range at the GIF's size, then RGB with the source's matrix
        video = video.filter("scale", width, height, flags="lanczos", out_range=matrix["in_range"], **matrix)
        video = _thinned(video.filter("format", "yuv444p").filter("hqdn3d", **denoise), thin)
        video = video.filter("scale", **matrix)
    return video.filter("format", "bgra").filter("setsar", "1")


def _thinned(video: Any, rate: float | None) -> Any:
    """Replace each frame that barely differs from the last kept one by a copy of that frame.

    The grain hqdn3d leaves still changes a few levels here and there, so a still picture's frames
    are never equal and each costs a GIF rectangle; an exact copy costs a 1x1 transparent frame.
    mpdecimate drops the near copies (YUV only), the fps filter fills their slots with the last kept
    frame up to the end of the stream, so every frame keeps its time.
    """
    if rate is None:
        return video
    return video.filter("mpdecimate", **NEAR_COPY).filter("fps", fps=f"{rate:.3f}".rstrip("0").rstrip("."))


def _tone_mapped(video: Any, picture: Picture) -> Any:
    """HDR (PQ or HLG, BT.2020) to SDR BT.709 RGB: linear light, gamut, tone curve, BT.709 gamma."""
    video = video.filter(
        "zscale",
        tin=picture.transfer,
        pin=picture.primaries,
        min=ZSCALE_MATRICES.get(picture.matrix, "2020_ncl"),
        rin="pc" if picture.full_range else "tv",
        t="linear",
        p=picture.primaries,
        m="gbr",
        r="pc",
        npl=REFERENCE_WHITE_NITS,
    ).filter("format", "gbrpf32le")
    video = video.filter("zscale", p="709", t="linear", m="gbr", r="pc")
    peak = HDR_PEAK_NITS / REFERENCE_WHITE_NITS
    video = video.filter("tonemap", tonemap="mobius", param=TONEMAP_KNEE, peak=f"{peak:.3f}")
    return video.filter("zscale", t="709", p="709", m="gbr", r="pc").filter("format", "gbrp")
