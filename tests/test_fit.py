"""jobs.fit against real ffmpeg: whole conversions, trimming, and shrinking a GIF under the size cap."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import BadTrim
from core.settings import Settings
from jobs.fit import MIN_WIDTH, _result, _shrink, convert
from jobs.probe import MediaInfo
from jobs.recipe import GifOptions, Limits
from tests import media
from tests.services import REPO_ROOT

LANDSCAPE = MediaInfo(1920, 1080, 60.0, 30.0, "mov,mp4,m4a,3gp,3g2,mj2", "h264", True)
CAP = 1_000_000


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
    assert result.ffmpeg_seconds > 0 and result.ffmpeg_cpu_seconds > 0, "ffmpeg's own time is reported"


@pytest.mark.parametrize(
    "make",
    [lambda d: media.make_clip(d, rotate=90), media.make_portrait],
    ids=["rotated-landscape", "portrait-1080x1920"],
)
def test_portrait_inputs_get_the_landscape_pixel_budget(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    """A portrait (or rotated) clip becomes a 270x480 GIF, not 480x853."""
    result = convert(make(tmp_path), tmp_path / "out.gif", GifOptions(), Limits())
    assert gif_stats(result.path)[:2] == (270, 480)


def test_a_colour_in_one_frame_of_a_short_gif_keeps_its_place_in_the_palette(tmp_path: Path) -> None:
    """A 1 s GIF's palette counts every frame (a long one's every 2nd): one blue frame among red
    ones stays blue, not the nearest red."""
    clip = media.lavfi_clip(
        tmp_path / "flash.mp4", "color=c=red:s=320x180:r=12:d=1,drawbox=c=blue:t=fill:enable='eq(n,5)'"
    )
    result = convert(clip, tmp_path / "out.gif", GifOptions(), Limits())
    argv = ["ffmpeg", "-v", "error", "-i", str(result.path), "-vf", "fps=12,scale=1:1:flags=area"]
    argv += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    pixels = subprocess.run(argv, capture_output=True, check=True)
    frames = [tuple(pixels.stdout[i : i + 3]) for i in range(0, len(pixels.stdout), 3)]
    assert len(frames) == 12
    blue = [n for n, (r, _g, b) in enumerate(frames) if b > 200 and r < 60]
    assert blue == [5], frames


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


def test_a_window_shorter_than_a_frame_late_in_the_clip_gives_one_frame(tmp_path: Path) -> None:
    """start 1.95 s of a 2 s, 25 fps clip: one GIF frame from 1.96 s (trim counted frames from 0)."""
    result = convert(media.make_clip(tmp_path), tmp_path / "out.gif", GifOptions(start=1.95), Limits())
    assert gif_stats(result.path)[2] == 1 and result.seconds == pytest.approx(0.05)


def test_double_speed_halves_the_play_time(tmp_path: Path) -> None:
    """speed=2 plays a 2 s clip in 1 s at the asked 12 fps (24 source frames a second sampled)."""
    options = GifOptions(speed=2.0, reverse=True)
    result = convert(media.make_moving_marker(tmp_path), tmp_path / "out.gif", options, Limits())
    assert (result.seconds, result.fps) == (1.0, 12.0)
    assert gif_stats(result.path)[3] == pytest.approx(1.0, abs=0.2)


def test_a_window_past_the_end_is_refused_before_converting(tmp_path: Path) -> None:
    """start beyond a 2 s clip raises BadTrim and writes no GIF."""
    with pytest.raises(BadTrim):
        convert(media.make_clip(tmp_path), tmp_path / "out.gif", GifOptions(start=5.0), Limits())
    assert not (tmp_path / "out.gif").exists()


@pytest.mark.parametrize(
    ("attempt", "size", "expected"),
    [
        (GifOptions(), CAP * 11 // 10, GifOptions(fps=8)),  # a little over: one step down the ladder
        (GifOptions(), CAP * 3 // 2, GifOptions(fps=6)),  # 8 fps would not do: straight to 6
        (GifOptions(), CAP * 2, GifOptions(fps=6, width=408)),  # 6 fps is not enough: narrower too
        (GifOptions(fps=6), CAP * 11 // 10, GifOptions(fps=6, width=408)),  # off the ladder: width
        (GifOptions(fps=6), CAP * 10, GifOptions(fps=6, width=113)),  # far over: ratio^0.6 of the width
        (GifOptions(fps=6, width=100), CAP * 10, GifOptions(fps=6, width=MIN_WIDTH)),
        (GifOptions(fps=6, width=MIN_WIDTH), CAP * 10, None),  # nothing left to give up
    ],
)
def test_shrink_lowers_fps_first_then_width(
    attempt: GifOptions, size: int, expected: GifOptions | None
) -> None:
    """_shrink takes the highest ladder fps predicted to fit, then narrows only for what is left."""
    assert _shrink(LANDSCAPE, attempt, size, CAP) == expected


def test_shrink_narrows_a_source_slower_than_the_ladder() -> None:
    """A 5 fps source cannot lose frames to the ladder, so only the width shrinks."""
    slow = MediaInfo(1920, 1080, 60.0, 5.0, "avi", "mpeg4", False)
    smaller = _shrink(slow, GifOptions(), CAP * 2, CAP)
    assert smaller is not None and smaller.fps == 12 and smaller.width < 480


def test_shrink_keeps_portrait_width_in_the_pixel_budget() -> None:
    """A portrait source narrows by its budget-bound size, keeping the asked width's units."""
    portrait = MediaInfo(1080, 1920, 60.0, 30.0, "mov,mp4,m4a,3gp,3g2,mj2", "h264", False)
    assert _shrink(portrait, GifOptions(), CAP * 2, CAP) == GifOptions(fps=6, width=408)


def test_result_describes_the_options_used_not_those_asked() -> None:
    """Size, fps and play time follow the used options; shrunk and truncated say what changed."""
    asked = GifOptions(speed=2.0, max_seconds=15.0)
    used = GifOptions(speed=2.0, max_seconds=15.0, fps=6, width=240)
    result = _result(Path("out.gif"), LANDSCAPE, asked, used, 1234)
    assert (result.width, result.height, result.fps, result.seconds) == (240, 134, 6.0, 7.5)
    assert result.shrunk and result.truncated and result.size_bytes == 1234
    whole = _result(Path("out.gif"), LANDSCAPE, GifOptions(end=10.0), GifOptions(end=10.0), 1)
    assert not whole.shrunk and not whole.truncated and whole.seconds == 10.0


def peak_child_rss_mb(src: Path, dst: Path, options: str) -> float:
    """Convert in a fresh Python with GifOptions(`options`); the largest child's (ffmpeg's) peak RSS."""
    code = (
        "import resource, sys; from pathlib import Path; from jobs.fit import convert; "
        "from jobs.recipe import GifOptions, Limits; "
        f"convert(Path(sys.argv[1]), Path(sys.argv[2]), GifOptions({options}), Limits()); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    argv = [sys.executable, "-c", code, str(src), str(dst)]
    out = subprocess.run(argv, cwd=REPO_ROOT, check=True, capture_output=True, text=True, timeout=120)
    return int(out.stdout.split()[-1]) / 1024


def test_reverse_holds_gif_sized_frames_not_source_frames(tmp_path: Path) -> None:
    """Reversing 2 s of 1080p60 at half speed (48 frames) costs ffmpeg < 40 MB more: it runs after
    the scale (before it, the 1080p frames alone were ~150 MB)."""
    src = media.make_clip(tmp_path, "hd.mp4", seconds=2, size=(1920, 1080), fps=60)
    forward = peak_child_rss_mb(src, tmp_path / "forward.gif", "speed=0.5")
    backward = peak_child_rss_mb(src, tmp_path / "backward.gif", "speed=0.5, reverse=True")
    print(f"\nffmpeg peak RSS: {forward:.0f} MB forward, {backward:.0f} MB reversed")
    assert backward - forward < 40


def test_default_length_gives_a_gif_covering_30_seconds(tmp_path: Path) -> None:
    """At the install's defaults, a 31 s clip gives a GIF of ~30 s (the sum of its delays), whole,
    under the cap; a repeated frame may be one frame with a longer delay (gifsicle's repack)."""
    settings = Settings.from_env({}, env_file=tmp_path / "none")
    options = GifOptions(width=settings.gif_width, fps=settings.gif_fps, max_seconds=settings.max_seconds)
    src = media.make_clip(tmp_path, seconds=31.0, size=(64, 36), fps=12)
    result = convert(src, tmp_path / "out.gif", options, Limits(max_output_bytes=settings.max_output_bytes))
    _, _, frames, seconds = gif_stats(result.path)
    assert result.truncated and not result.shrunk and result.seconds == 30.0
    assert 0 < frames <= 30 * 12 + 2 and seconds == pytest.approx(30.0, abs=0.3)
