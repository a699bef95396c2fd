"""jobs.recipe: the pure argv builder (hardening flags, graph order, sizes, windows, rates)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from jobs.probe import MediaInfo
from jobs.recipe import (
    GifOptions,
    Limits,
    build_convert_args,
    target_size,
)
from jobs.runner import FFmpegFailed, run
from tests import media

LANDSCAPE = MediaInfo(1920, 1080, 60.0, 30.0, "mov,mp4,m4a,3gp,3g2,mj2", "h264", True)


def graph(argv: list[str]) -> str:
    """Return the -filter_complex argument of an ffmpeg argv."""
    return argv[argv.index("-filter_complex") + 1]


def flags(argv: list[str]) -> dict[str, str]:
    """Map each -option in an argv to the word after it."""
    return {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("-")}


def test_argv_carries_hardening_flags_and_file_url(tmp_path: Path) -> None:
    """The ffmpeg argv whitelists demuxers and protocols, caps pixels and reads a file: URL."""
    argv = build_convert_args(tmp_path / "in.mp4", tmp_path / "out.gif", LANDSCAPE, GifOptions(), Limits())
    flag = flags(argv)
    assert argv[0] == "ffmpeg" and "-nostdin" in argv and "-y" in argv
    assert flag["-format_whitelist"] == "mov,matroska,avi"
    assert flag["-protocol_whitelist"] == "file"
    assert int(flag["-max_pixels"]) >= 3840 * 2160
    assert flag["-i"] == f"file:{tmp_path / 'in.mp4'}"
    assert argv.index("-format_whitelist") < argv.index("-i")
    assert float(flag["-t"]) == 16.0  # start + max_seconds + 1 s margin
    assert flag["-loop"] == "0" and argv[-1] == f"file:{tmp_path / 'out.gif'}"


def test_filter_graph_runs_fps_first_then_trim_then_palette(tmp_path: Path) -> None:
    """fps comes before trim; speed and reverse sit between trim and the lanczos scale."""
    options = GifOptions(start=1.0, end=3.0, speed=2.0, reverse=True)
    chain = graph(build_convert_args(tmp_path / "a.mp4", tmp_path / "b.gif", LANDSCAPE, options, Limits()))
    steps = ["fps=", "trim=", "setpts=PTS-STARTPTS", "setpts=PTS/2", "reverse", "scale=480:270"]
    steps += ["split", "palettegen", "paletteuse"]
    positions = [chain.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "trim=end=3:start=1" in chain and "flags=lanczos" in chain and "dither=bayer" in chain


def test_output_fps_never_exceeds_source_fps(tmp_path: Path) -> None:
    """A 10 fps source is sampled at 10 fps even though 12 were asked for."""
    slow = MediaInfo(640, 360, 5.0, 10.0, "avi", "mpeg4", False)
    chain = graph(build_convert_args(tmp_path / "a.avi", tmp_path / "b.gif", slow, GifOptions(), Limits()))
    assert chain.startswith("[0:v]fps=fps=10[")


@pytest.mark.parametrize(
    ("src", "width", "expected"),
    [
        ((1920, 1080), 480, (480, 270)),  # landscape: width-bound
        ((1080, 1920), 480, (270, 480)),  # portrait: same pixel budget, not 480x853
        ((1080, 1080), 480, (360, 360)),  # square: pixel budget
        ((320, 240), 480, (320, 240)),  # small input is never upscaled
        ((321, 241), 480, (320, 240)),  # odd dims become even
        ((1921, 1081), 480, (480, 270)),
        ((3840, 2160), 240, (240, 134)),
    ],
)
def test_target_size_table(src: tuple[int, int], width: int, expected: tuple[int, int]) -> None:
    """target_size keeps a 16:9 pixel budget, never upscales and returns even dims."""
    assert target_size(*src, width) == expected


def test_options_out_of_range_are_refused() -> None:
    """GifOptions rejects a speed outside 0.5..2.0 and an end before the start."""
    with pytest.raises(ValueError):
        GifOptions(speed=3.0)
    with pytest.raises(ValueError):
        GifOptions(start=2.0, end=1.0)


@pytest.mark.parametrize("make", media.DISGUISES, ids=lambda f: f.__name__)
def test_ffmpeg_itself_refuses_a_disguise_even_without_probe(tmp_path: Path, make: Callable) -> None:
    """Defence in depth: the convert argv alone refuses a playlist/script/manifest; nothing is read."""
    src, dst = make(tmp_path, media.make_secret(tmp_path)), tmp_path / "out.gif"
    fake = MediaInfo(320, 240, 10.0, 25.0, "mov,mp4,m4a,3gp,3g2,mj2", "h264", False)
    with pytest.raises(FFmpegFailed):
        run(build_convert_args(src, dst, fake, GifOptions(), Limits()), timeout=20)
    outputs = [p for p in tmp_path.iterdir() if p.name != "secret.txt"]
    assert all(media.SECRET not in p.read_bytes() for p in outputs)


def test_ffmpeg_decoders_cap_pixels_when_the_header_lies(tmp_path: Path) -> None:
    """A 5000x5000 frame behind a 320x240 header fails in ffmpeg's decoder, not in our memory."""
    liar = media.make_lying_header(tmp_path)
    fake = MediaInfo(320, 240, 1.0, 25.0, "matroska,webm", "mjpeg", False)
    with pytest.raises(FFmpegFailed):
        run(build_convert_args(liar, tmp_path / "out.gif", fake, GifOptions(), Limits()), timeout=20)
