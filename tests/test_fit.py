"""jobs.fit against real ffmpeg: whole conversions, trimming, and shrinking a GIF under the size cap."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from jobs.fit import convert
from jobs.probe import MediaInfo
from jobs.recipe import GifOptions, Limits
from tests import media

LANDSCAPE = MediaInfo(1920, 1080, 60.0, 30.0, "mov,mp4,m4a,3gp,3g2,mj2", "h264", True)


def gif_stats(path: Path) -> tuple[int, int, int, float]:
    """Return (width, height, frames, seconds) of a GIF, checking its magic bytes first."""
    assert path.read_bytes()[:6] == b"GIF89a"
    argv = ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-of", "json"]
    argv += ["-show_entries", "stream=width,height,nb_read_frames:format=duration", str(path)]
    data = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
    stream = data["streams"][0]
    return stream["width"], stream["height"], int(stream["nb_read_frames"]), float(data["format"]["duration"])


def test_clip_converts_to_a_looping_gif(tmp_path: Path) -> None:
    """A 2 s clip becomes a GIF89a of >= 2 frames, at most 480 wide, with progress up to 1.0."""
    seen: list[float] = []
    result = convert(
        media.make_clip(tmp_path, audio=True), tmp_path / "out.gif", GifOptions(), Limits(), seen.append
    )
    width, height, frames, seconds = gif_stats(result.path)
    assert (width, height) == (result.width, result.height) == (480, 270)
    assert frames >= 2 and seconds == pytest.approx(2.0, abs=0.2)
    assert (result.fps, result.truncated, result.shrunk) == (12.0, False, False)
    assert seen == sorted(seen) and seen[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in seen)


@pytest.mark.parametrize(
    "make",
    [lambda d: media.make_clip(d, rotate=90), media.make_portrait],
    ids=["rotated-landscape", "portrait-1080x1920"],
)
def test_portrait_inputs_get_the_landscape_pixel_budget(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    """A portrait (or rotated) clip becomes a 270x480 GIF, not 480x853."""
    result = convert(make(tmp_path), tmp_path / "out.gif", GifOptions(), Limits())
    assert gif_stats(result.path)[:2] == (270, 480)


def test_oversized_gif_is_shrunk_under_the_cap(tmp_path: Path) -> None:
    """A GIF over max_output_bytes is redone at lower fps, then width, and marked shrunk."""
    cap = 120_000
    result = convert(
        media.make_clip(tmp_path), tmp_path / "out.gif", GifOptions(), Limits(max_output_bytes=cap)
    )
    assert result.shrunk and result.size_bytes == (tmp_path / "out.gif").stat().st_size <= cap
    assert result.fps <= 8 and gif_stats(result.path)[2] >= 2


def test_long_input_is_truncated_to_max_seconds(tmp_path: Path) -> None:
    """A 5 s clip with max_seconds=2 gives a 2 s GIF and truncated=True."""
    src = media.make_clip(tmp_path, seconds=5.0, size=(320, 180))
    result = convert(src, tmp_path / "out.gif", GifOptions(max_seconds=2.0), Limits())
    assert result.truncated and result.seconds == 2.0
    assert gif_stats(result.path)[3] == pytest.approx(2.0, abs=0.2)


def test_trim_window_selects_the_asked_seconds(tmp_path: Path) -> None:
    """start/end cut the source: a 0.5..1.5 s window of a 2 s clip plays for 1 s, not truncated."""
    options = GifOptions(start=0.5, end=1.5)
    result = convert(media.make_moving_marker(tmp_path), tmp_path / "out.gif", options, Limits())
    assert not result.truncated and result.seconds == 1.0
    assert gif_stats(result.path)[3] == pytest.approx(1.0, abs=0.2)
