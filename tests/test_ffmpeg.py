"""The ffmpeg pieces against real ffmpeg: the hardened argv, the graph order, probing refusals, fitting."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import BrokenVideo, ConversionTimeout, NotAVideo, TooLarge, UserFacingError
from jobs.fit import convert
from jobs.probe import MediaInfo, probe
from jobs.recipe import GifOptions, Limits, build_convert_args, target_size
from jobs.runner import FFmpegFailed, run
from tests import media
from tests.services import wait_until

SECRET = b"TOP-SECRET-7f3a9c"
LANDSCAPE = MediaInfo(1920, 1080, 60.0, 30.0, "mov,mp4,m4a,3gp,3g2,mj2", "h264", True)


def gif_stats(path: Path) -> tuple[int, int, int, float]:
    """Return (width, height, frames, seconds) of a GIF, checking its magic bytes first."""
    assert path.read_bytes()[:6] == b"GIF89a"
    argv = ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-of", "json"]
    argv += ["-show_entries", "stream=width,height,nb_read_frames:format=duration", str(path)]
    data = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
    stream = data["streams"][0]
    return stream["width"], stream["height"], int(stream["nb_read_frames"]), float(data["format"]["duration"])


def graph(argv: list[str]) -> str:
    """Return the -filter_complex argument of an ffmpeg argv."""
    return argv[argv.index("-filter_complex") + 1]


def test_argv_carries_hardening_flags_and_file_url(tmp_path: Path) -> None:
    """The ffmpeg argv whitelists demuxers and protocols, caps pixels and reads a file: URL."""
    argv = build_convert_args(tmp_path / "in.mp4", tmp_path / "out.gif", LANDSCAPE, GifOptions(), Limits())
    flag = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("-")}
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


@pytest.mark.parametrize(
    ("make", "fmt", "has_audio"),
    [
        (lambda d: media.make_webm(d), "matroska,webm", True),
        (lambda d: media.make_webm(d, live=True), "matroska,webm", False),
        (lambda d: media.make_clip(d, "clip.avi", vcodec="mpeg4", audio=True), "avi", True),
        (lambda d: media.make_clip(d, "clip.mkv"), "matroska,webm", False),
    ],
    ids=["webm", "webm-without-duration", "avi", "mkv"],
)
def test_probe_accepts_whitelisted_containers(
    tmp_path: Path, make: Callable[[Path], Path], fmt: str, has_audio: bool
) -> None:
    """WebM (even without a duration, as MediaRecorder writes it), AVI and MKV probe fine."""
    info = probe(make(tmp_path), Limits())
    assert (info.format_name, info.has_audio, info.fps) == (fmt, has_audio, 25.0)
    assert info.duration == pytest.approx(2.0, abs=0.1)


DISGUISES = [media.make_hls_disguise, media.make_ffconcat_disguise, media.make_dash_disguise]
BAD_INPUTS: list[tuple[str, Callable[[Path], Path], type[UserFacingError]]] = [
    ("audio-only", media.make_audio_only, NotAVideo),
    ("audio-with-cover-art", lambda d: media.make_audio_only(d, cover=True), NotAVideo),
    ("png", media.make_png, NotAVideo),
    ("jpeg", media.make_jpeg, NotAVideo),
    ("text", media.make_text, NotAVideo),
    ("pdf", media.make_pdf, NotAVideo),
    ("garbage", media.make_garbage, NotAVideo),
    ("zero-byte", media.make_zero_byte, BrokenVideo),
    ("truncated", lambda d: media.make_truncated(media.make_clip(d)), BrokenVideo),
    ("corrupt", lambda d: media.make_corrupt(media.make_clip(d, "c.mkv")), BrokenVideo),
    ("huge-resolution", media.make_huge_resolution, TooLarge),
    ("header-lies-about-size", media.make_lying_header, BrokenVideo),
]
BAD_INPUTS += [(f.__name__.removeprefix("make_"), f, NotAVideo) for f in DISGUISES]  # type: ignore[misc]


def _secret(directory: Path) -> Path:
    path = directory / "secret.txt"
    path.write_bytes(SECRET + b"\n")
    return path


@pytest.mark.parametrize(("name", "make", "error"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_refused_with_the_right_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, make: Callable, error: type
) -> None:
    """Each bad or disguised input raises its UserFacingError; no secret leaks anywhere."""
    secret = _secret(tmp_path)
    src = make(tmp_path, secret) if make in DISGUISES else make(tmp_path)
    with pytest.raises(error) as caught:
        convert(src, tmp_path / "out.gif", GifOptions(), Limits())
    assert type(caught.value) is error
    assert SECRET.decode() not in str(caught.value) + caplog.text
    assert not (tmp_path / "out.gif").exists()


@pytest.mark.parametrize("make", DISGUISES, ids=lambda f: f.__name__)
def test_ffmpeg_itself_refuses_a_disguise_even_without_probe(tmp_path: Path, make: Callable) -> None:
    """Defence in depth: the convert argv alone refuses a playlist/script/manifest; nothing is read."""
    src, dst = make(tmp_path, _secret(tmp_path)), tmp_path / "out.gif"
    fake = MediaInfo(320, 240, 10.0, 25.0, "mov,mp4,m4a,3gp,3g2,mj2", "h264", False)
    with pytest.raises(FFmpegFailed):
        run(build_convert_args(src, dst, fake, GifOptions(), Limits()), timeout=20)
    outputs = [p for p in tmp_path.iterdir() if p.name != "secret.txt"]
    assert all(SECRET not in p.read_bytes() for p in outputs)


def test_ffmpeg_decoders_cap_pixels_when_the_header_lies(tmp_path: Path) -> None:
    """A 5000x5000 frame behind a 320x240 header fails in ffmpeg's decoder, not in our memory."""
    liar = media.make_lying_header(tmp_path)
    fake = MediaInfo(320, 240, 1.0, 25.0, "matroska,webm", "mjpeg", False)
    with pytest.raises(FFmpegFailed):
        run(build_convert_args(liar, tmp_path / "out.gif", fake, GifOptions(), Limits()), timeout=20)


def test_pixel_cap_refuses_large_pictures(tmp_path: Path) -> None:
    """A clip over Limits.max_pixels is refused as TooLarge before any decoding."""
    with pytest.raises(TooLarge):
        probe(media.make_clip(tmp_path), Limits(max_pixels=320 * 240))


def _gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie counts: nobody may reap it in a container)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """A child that outlives its timeout is SIGKILLed with its own children: no ffmpeg remains."""
    pids = tmp_path / "pids"
    endless = "ffmpeg -nostdin -v quiet -f lavfi -i testsrc=s=64x64 -f null -"
    script = f"{endless} & echo $$ $! > {pids}; wait"
    with pytest.raises(ConversionTimeout):
        run(["sh", "-c", script], timeout=1.0)
    shell, ffmpeg_pid = (int(pid) for pid in pids.read_text().split())
    wait_until(lambda: _gone(shell) and _gone(ffmpeg_pid), timeout=5, what="the process group to die")


def test_failure_never_puts_stderr_in_the_exception(caplog: pytest.LogCaptureFixture) -> None:
    """A failing child raises FFmpegFailed with its exit code only; stderr goes to a log tail."""
    with pytest.raises(FFmpegFailed) as caught:
        run(["ffmpeg", "-nostdin", "-v", "error", "-i", "file:/nonexistent/MARKER-42.mp4"], timeout=20)
    assert "MARKER-42" not in str(caught.value) and caught.value.returncode != 0
    assert "MARKER-42" in caplog.text


def test_oversized_gif_is_shrunk_under_the_cap(tmp_path: Path) -> None:
    """A GIF over max_output_bytes is redone at lower fps, then width, and marked shrunk."""
    cap = 120_000
    result = convert(
        media.make_clip(tmp_path), tmp_path / "out.gif", GifOptions(), Limits(max_output_bytes=cap)
    )
    assert result.shrunk and result.size_bytes == (tmp_path / "out.gif").stat().st_size <= cap
    assert result.fps <= 8 and gif_stats(result.path)[2] >= 2


def test_failing_progress_callback_does_not_fail_the_conversion(tmp_path: Path) -> None:
    """A progress callback that raises is logged and dropped; the GIF is still made."""

    def broken(fraction: float) -> None:
        raise RuntimeError("display gone")

    result = convert(media.make_moving_marker(tmp_path), tmp_path / "out.gif", GifOptions(), Limits(), broken)
    assert result.size_bytes > 0


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
