"""Crop and square: black bars found by one cropdetect run are cut before scaling; square GIFs."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs import bars, fit
from jobs.framing import Box
from jobs.recipe import GifOptions, Limits
from tests import media
from tests.gifcheck import gif_info
from tests.picturecheck import rgb_frames

FRAME = (640, 360)


def boxed_clip(directory: Path, inner: tuple[int, int], at: tuple[int, int]) -> Path:
    """A 2 s test pattern of size `inner` placed at `at` on a black 640x360 frame."""
    dst = directory / "boxed.mp4"
    pattern = f"testsrc2=s={inner[0]}x{inner[1]}:r=25:d=2,pad={FRAME[0]}:{FRAME[1]}:{at[0]}:{at[1]}:black"
    return media.lavfi_clip(dst, pattern)


def darkest_edge(path: Path, size: tuple[int, int]) -> float:
    """The mean level of the darkest outer row or column of the GIF's first frame (0 black, 255 white)."""
    [frame] = rgb_frames(path, 1)
    width, height = size
    level = [
        sum(frame[(y * width + x) * 3 : (y * width + x) * 3 + 3]) / 3
        for y in range(height)
        for x in range(width)
    ]
    edges = [level[:width], level[-width:], level[::width], level[width - 1 :: width]]
    return min(sum(edge) / len(edge) for edge in edges)


def gif(src: Path, dst: Path, **asked: bool) -> tuple[int, int]:
    """Convert with the workers' fit.convert; return the GIF's size as ffprobe reads it."""
    fit.convert(src, dst, GifOptions(width=480, fps=8, max_seconds=1, **asked), Limits())
    info = gif_info(dst.read_bytes())
    return info.width, info.height


@pytest.mark.parametrize(
    ("inner", "at"), [((640, 272), (0, 44)), ((480, 360), (80, 0))], ids=["letterbox", "pillarbox"]
)
def test_crop_cuts_the_black_bars_before_scaling(tmp_path: Path, inner, at):
    """A letterboxed or pillarboxed clip gives a GIF of the inner picture's shape, not the frame's."""
    width, height = gif(boxed_clip(tmp_path, inner, at), tmp_path / "out.gif", crop=True)
    assert abs(width / height - inner[0] / inner[1]) < 0.02, (width, height)
    assert darkest_edge(tmp_path / "out.gif", (width, height)) > 40, "a black bar is left at an edge"


def test_crop_leaves_a_clip_without_bars_alone(tmp_path: Path):
    """A clip without bars converts to the very same GIF with crop on as with it off."""
    src = media.make_clip(tmp_path, seconds=2)
    assert gif(src, tmp_path / "on.gif", crop=True) == gif(src, tmp_path / "off.gif") == (480, 270)
    assert (tmp_path / "on.gif").read_bytes() == (tmp_path / "off.gif").read_bytes()


def test_square_gives_a_square_gif_of_the_picture_inside_the_bars(tmp_path: Path):
    """Square centre-crops to a square; with crop on too, the square comes from the inner picture."""
    src = boxed_clip(tmp_path, (640, 272), (0, 44))
    width, height = gif(src, tmp_path / "square.gif", crop=True, square=True)
    assert width == height
    info = fit.prepare(src, GifOptions(crop=True, square=True), Limits())
    assert info.crop is not None and abs(info.crop.h - 272 / 360) < 0.01  # all of the picture's height


def lines(x1: int, x2: int, y1: int, y2: int) -> list[str]:
    """cropdetect's printed bounds of one frame."""
    return [f"lavfi.cropdetect.{k}={v}" for k, v in {"x1": x1, "x2": x2, "y1": y1, "y2": y2}.items()]


def test_bars_keep_every_frames_picture_and_ignore_slivers_and_dark_scenes():
    """The union of all frames is kept; a side losing under 4 % keeps it; a tiny picture is no bars."""
    union = bars.bars_box(lines(0, 639, 44, 315) + lines(0, 639, 40, 320), *FRAME)
    assert union == Box(0.0, 40 / 360, 1.0, 281 / 360)
    assert bars.bars_box(lines(0, 639, 6, 353), *FRAME) is None  # a 6 px sliver top and bottom
    assert bars.bars_box(lines(300, 340, 0, 359), *FRAME) is None  # a dark scene with one light
