"""jobs.picture: pixel shape, colour and scan read from ffprobe, and what the GIF then looks like.

The colour and combing tests convert real clips with real ffmpeg and measure the GIFs
(tests/picturecheck.py): CIEDE2000 against an SDR master, patch levels, row-difference energy.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from jobs.fit import convert
from jobs.picture import Picture, aspect, describe, display_size
from jobs.probe import MediaInfo, probe
from jobs.recipe import GifOptions, Limits, build_convert_args
from jobs.runner import run
from tests import devices, picturecheck
from tests.media import ffmpeg

HDR_DELTA_E_MAX = 5.0  # mean CIEDE2000 of the tone-mapped GIF to the SDR master's GIF
UNMAPPED_FACTOR = 2.0  # ...and the same clip without tone mapping is at least this much further
LEVEL_TOLERANCE = 6  # per channel, 0-255, on a patch's mean (palette rounding and dither included)


# ---------------------------------------------------------------- reading ffprobe's fields


@pytest.mark.parametrize(
    ("value", "ratio"),
    [("64:45", 64 / 45), ("4:3", 4 / 3), ("1:1", 1.0), ("0:1", 0.0), ("N/A", 0.0), (None, 0.0), ("9:1", 0.0)],
)
def test_aspect_parses_ratios_and_drops_garbage(value: object, ratio: float) -> None:
    """A SAR like 64:45 parses; undefined (0:1, N/A) or absurd (9:1) ones read as 0 (square)."""
    assert aspect(value) == pytest.approx(ratio)


@pytest.mark.parametrize(
    ("stored", "sar", "shown"),
    [
        ((720, 576), 64 / 45, (1024, 576)),  # PAL DVD 16:9
        ((720, 480), 8 / 9, (640, 480)),  # NTSC DVD 4:3
        ((1440, 1080), 4 / 3, (1920, 1080)),  # HDV / AVCHD
        ((176, 144), 128 / 117, (193, 144)),  # QCIF phone
        ((640, 360), 1.0, (640, 360)),
    ],
)
def test_display_size_stretches_the_width_by_the_pixel_shape(
    stored: tuple[int, int], sar: float, shown: tuple[int, int]
) -> None:
    """The stored width times the SAR, the height kept: what a player shows."""
    assert display_size(*stored, sar) == shown


def frame(**fields: Any) -> dict[str, Any]:
    """A decoded frame as ffprobe reports it (progressive 8-bit SDR unless told)."""
    return {"pix_fmt": "yuv420p", "interlaced_frame": 0, **fields}


@pytest.mark.parametrize(
    ("stream", "frames", "height", "expected"),
    [
        ({}, [frame()], 360, Picture(matrix="bt601")),  # untagged SD: BT.601, as players assume
        ({}, [frame()], 1080, Picture(matrix="bt709")),  # untagged HD: BT.709
        ({}, [frame(color_space="bt709")], 480, Picture(matrix="bt709")),  # a tag beats the guess
        ({"color_space": "smpte170m"}, [frame()], 1080, Picture(matrix="bt601")),
        ({}, [frame(pix_fmt="yuvj420p")], 240, Picture(matrix="bt601", full_range=True)),  # JPEG
        ({}, [frame(color_range="pc")], 240, Picture(matrix="bt601", full_range=True)),
        ({"sample_aspect_ratio": "64:45"}, [frame()], 576, Picture(sar=64 / 45, matrix="bt601")),
        ({"field_order": "tt"}, [frame()], 576, Picture(matrix="bt601", interlaced=True)),
        (
            {"field_order": "progressive"},  # the container says nothing useful, every frame is flagged
            [frame(interlaced_frame=1)] * 3,
            576,
            Picture(matrix="bt601", interlaced=True),
        ),
        ({"field_order": "progressive"}, [frame()], 576, Picture(matrix="bt601")),
        (
            {},
            [frame(color_transfer="arib-std-b67", color_primaries="bt2020", color_space="bt2020nc")],
            1080,
            Picture(matrix="bt2020", transfer="arib-std-b67", primaries="2020"),
        ),
        ({}, [frame(color_transfer="smpte2084")], 2160, Picture(matrix="bt2020", transfer="smpte2084")),
    ],
)
def test_describe_reads_shape_colour_and_scan(
    stream: dict[str, Any], frames: list[dict[str, Any]], height: int, expected: Picture
) -> None:
    """SAR, matrix (tagged, else guessed by height), range, HDR transfer and interlacing are read."""
    assert describe(stream, frames, height) == expected


def chain(look: Picture, tonemap: bool = True) -> str:
    """The filter graph build_convert_args makes for a 1920x1080 25 fps input that looks like `look`."""
    info = MediaInfo(1920, 1080, 10.0, 25.0, "mov,mp4,m4a,3gp,3g2,mj2", "h264", False, look)
    argv = build_convert_args(Path("/in.mp4"), Path("/out.gif"), info, GifOptions(), Limits(), tonemap)
    return argv[argv.index("-filter_complex") + 1]


def test_sdr_is_scaled_with_its_own_matrix_and_range_to_square_pixels() -> None:
    """The scale filter is told the stream's matrix and range, and the GIF's pixels are square."""
    graph = chain(Picture(matrix="bt601", full_range=True))
    assert "in_color_matrix=bt601" in graph and "in_range=pc" in graph and "setsar=1" in graph
    assert "zscale" not in graph and "tonemap" not in graph and "bwdif" not in graph


def test_denoising_reads_yuv_and_converts_with_the_streams_own_matrix() -> None:
    """hqdn3d gets planar YUV at the GIF's size; the RGB conversion after it keeps the stream's matrix."""
    graph = chain(Picture(matrix="bt601"))
    assert graph.index("format=yuv444p") < graph.index("hqdn3d") < graph.index("format=bgra")
    assert graph.count("in_color_matrix=bt601") == 2
    hlg = chain(Picture(matrix="bt2020", transfer="arib-std-b67"))
    assert hlg.index("tonemap") < hlg.index("hqdn3d") < hlg.index("format=bgra")


def test_hdr_is_tone_mapped_and_the_fallback_only_converts() -> None:
    """HLG/PQ goes through zscale and tonemap; without them it is a plain BT.2020 conversion."""
    hlg = Picture(matrix="bt2020", transfer="arib-std-b67")
    assert chain(hlg).count("zscale") == 3 and "tonemap=mobius" in chain(hlg)
    assert "zscale" not in chain(hlg, tonemap=False) and "in_color_matrix=bt2020" in chain(hlg, False)


def test_only_interlaced_streams_are_deinterlaced_first() -> None:
    """bwdif (one frame per frame) runs before fps, and only when the stream is interlaced."""
    graph = chain(Picture(interlaced=True))
    assert "bwdif=deint=all:mode=send_frame:parity=auto" in graph
    assert graph.index("bwdif") < graph.index("fps=")
    assert "bwdif" not in chain(Picture())


# ---------------------------------------------------------------- what the GIFs look like


def test_hdr_gifs_match_their_sdr_master(tmp_path: Path) -> None:
    """HLG and PQ clips made from an SDR master give GIFs within mean CIEDE2000 5 of its GIF;
    unmapped they are at least twice as far (both figures printed)."""
    source = ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=1"]
    master = tmp_path / "master.mp4"
    ffmpeg(*source, "-vf", "scale=out_color_matrix=bt709,format=yuv420p", "-colorspace", "bt709", str(master))
    master_gif = convert(master, tmp_path / "master.gif", GifOptions(), Limits()).path
    for transfer in ("arib-std-b67", "smpte2084"):
        hdr = tmp_path / f"{transfer}.mp4"
        ffmpeg(*source, "-vf", devices.hdr_filter(transfer), *devices.hdr_encode(transfer), str(hdr))
        mapped = convert(hdr, tmp_path / f"{transfer}.gif", GifOptions(), Limits()).path
        unmapped = tmp_path / f"{transfer}-unmapped.gif"
        run(
            build_convert_args(hdr, unmapped, probe(hdr, Limits()), GifOptions(), Limits(), tonemap=False), 60
        )
        near = picturecheck.mean_delta_e(master_gif, mapped)
        far = picturecheck.mean_delta_e(master_gif, unmapped)
        print(f"\n{transfer}: mean CIEDE2000 to the SDR master {near:.2f} tone-mapped, {far:.2f} without")
        assert near <= HDR_DELTA_E_MAX and far >= UNMAPPED_FACTOR * near, (near, far)


PATCHES = ((0, 0, 0), (64, 64, 64), (191, 191, 191), (255, 255, 255), (200, 30, 30), (30, 160, 60))


def patch_source() -> list[str]:
    """ffmpeg input arguments for a 1 s row of 80x120 patches in the PATCHES colours (RGB)."""
    colours = "".join(
        f"color=c=0x{r:02x}{g:02x}{b:02x}:s=80x120:r=10:d=1[p{i}];" for i, (r, g, b) in enumerate(PATCHES)
    )
    stacked = "".join(f"[p{i}]" for i in range(len(PATCHES))) + f"hstack=inputs={len(PATCHES)},format=gbrp"
    return ["-f", "lavfi", "-i", colours + stacked]


def yuv(matrix: str, range_: str) -> list[str]:
    """ffmpeg arguments converting the RGB patches to 4:2:0 YUV with `matrix` and `range_` (tv/pc)."""
    return ["-vf", f"scale=out_color_matrix={matrix}:out_range={range_},format=yuv420p"]


ENCODINGS = {
    # name: (output arguments, file name): full and limited range, BT.601 and BT.709 matrices
    "mjpeg-full-range": (
        ["-vf", "scale=out_color_matrix=bt601:out_range=pc", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p"],
        "webcam.avi",
    ),
    "h264-limited-bt709": (
        [*yuv("bt709", "tv"), "-colorspace", "bt709", "-color_range", "tv", "-c:v", "libx264", "-qp", "0"],
        "hd.mp4",
    ),
    "h264-full-bt709": (
        [*yuv("bt709", "pc"), "-colorspace", "bt709", "-color_range", "pc", "-c:v", "libx264", "-qp", "0"],
        "full.mp4",
    ),
    "mpeg2-limited-bt601": (
        [*yuv("bt601", "tv"), "-colorspace", "smpte170m", "-c:v", "mpeg2video", "-q:v", "2"],
        "sd.mpg",
    ),
}


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_levels_and_matrices_come_out_as_recorded(tmp_path: Path, name: str) -> None:
    """Black, greys, white and two colours keep their RGB (within 6) for full- or limited-range,
    BT.601 or BT.709 input, as tagged."""
    args, file_name = ENCODINGS[name]
    src = tmp_path / file_name
    ffmpeg(*patch_source(), *args, str(src))
    gif = convert(src, tmp_path / "out.gif", GifOptions(width=480), Limits()).path
    found = patch_colours(gif)
    print(f"\n{name}: {found}")
    misses = [
        (want, got)
        for want, got in zip(PATCHES, found, strict=True)
        if max(abs(a - b) for a, b in zip(want, got, strict=True)) > LEVEL_TOLERANCE
    ]
    assert not misses, misses


def patch_colours(gif: Path) -> list[tuple[int, ...]]:
    """The mean RGB of a 20x20 block in the middle of each patch of the GIF's first frame."""
    [rgb] = picturecheck.rgb_frames(gif, 1)
    width, found = 80 * len(PATCHES), []
    for i in range(len(PATCHES)):
        block = [
            rgb[(y * width + x) * 3 : (y * width + x) * 3 + 3]
            for y in range(50, 70)
            for x in range(i * 80 + 30, i * 80 + 50)
        ]
        found.append(tuple(round(sum(pixel[c] for pixel in block) / len(block)) for c in range(3)))
    return found


def test_interlaced_video_comes_out_without_combing(tmp_path: Path) -> None:
    """A 50i clip of a moving picture: its GIF combs no more than the 25p one of the same scene does,
    where the GIF made without deinterlacing combs at least 5x as much (figures printed)."""
    scene = ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=50:d=1,scroll=horizontal=0.02"]
    x264 = ["-c:v", "libx264", "-preset", "ultrafast"]
    interlaced, progressive = tmp_path / "interlaced.mp4", tmp_path / "progressive.mp4"
    weave = ["-vf", "interlace=scan=tff:lowpass=off", "-flags", "+ildct+ilme", "-x264-params", "tff=1"]
    ffmpeg(*scene, *weave, *x264, str(interlaced))
    ffmpeg(*scene, "-r", "25", *x264, str(progressive))
    info = probe(interlaced, Limits())
    assert info.picture.interlaced and not probe(progressive, Limits()).picture.interlaced
    options = GifOptions(width=320)  # no vertical scaling: each field keeps its own rows
    woven = convert(interlaced, tmp_path / "woven.gif", options, Limits()).path
    reference = convert(progressive, tmp_path / "reference.gif", options, Limits()).path
    combed = tmp_path / "combed.gif"
    as_progressive = replace(info, picture=replace(info.picture, interlaced=False))
    run(build_convert_args(interlaced, combed, as_progressive, options, Limits()), 60)
    clean, truth, raw = (picturecheck.combing(gif) for gif in (woven, reference, combed))
    print(f"\ncombing energy: {clean:.1f} deinterlaced, {truth:.1f} progressive source, {raw:.1f} as is")
    assert clean <= 1.5 * truth + 2 and raw >= 5 * clean
