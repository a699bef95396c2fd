"""jobs.probe against real ffprobe: whitelisted containers pass, bad and disguised inputs are refused."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.errors import (
    AudioOnly,
    BrokenVideo,
    Encrypted,
    NotAVideo,
    TooLarge,
    UnsupportedCodec,
    UserFacingError,
)
from jobs import probe as probing
from jobs import runner
from jobs.fit import convert
from jobs.probe import probe
from jobs.probefields import number, rate, rotated
from jobs.recipe import GifOptions, Limits
from jobs.warm import Warm
from tests import media
from tests.gifcheck import gif_info


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


@pytest.mark.parametrize(
    ("name", "vcodec", "fmt"),
    [
        ("clip.ts", "libx264", "mpegts"),
        ("clip.mpg", "mpeg2video", "mpeg"),
        ("clip.flv", "flv1", "flv"),
        ("clip.wmv", "wmv2", "asf"),
        ("clip.ogv", "libtheora", "ogg"),
        ("clip.3gp", "h263", "mov,mp4,m4a,3gp,3g2,mj2"),
    ],
)
def test_probe_accepts_the_newly_whitelisted_containers(
    tmp_path: Path, name: str, vcodec: str, fmt: str
) -> None:
    """MPEG-TS, MPEG-PS, FLV, ASF and Ogg probe with their size and duration (H.263's header has no size)."""
    size = (176, 144) if vcodec == "h263" else (320, 240)
    info = probe(media.make_clip(tmp_path, name, size=size, vcodec=vcodec), Limits())
    assert (info.format_name, (info.width, info.height)) == (fmt, size)
    assert info.duration == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize(
    ("name", "vcodec", "sound"),
    [("still.mp4", "libx264", 0), ("still.mkv", "mjpeg", 0), ("song.mp4", "libx264", 3)],
)
def test_a_still_picture_in_a_video_file_becomes_a_one_frame_gif(
    tmp_path: Path, name: str, vcodec: str, sound: float
) -> None:
    """One frame in MP4 or MKV, alone or under 3 s of sound, is a one-frame GIF, not 'damaged'."""
    src = media.make_still(tmp_path, name, vcodec, sound)
    info = probe(src, Limits())
    assert info.still and info.duration == pytest.approx(sound or 0.04, abs=0.05)
    result = convert(src, tmp_path / "out.gif", GifOptions(), Limits())
    gif = gif_info(result.path.read_bytes())
    assert (gif.frames, gif.width, gif.height) == (1, 320, 240)


def test_probe_reports_the_displayed_size_of_a_rotated_clip(tmp_path: Path) -> None:
    """A 640x360 clip tagged to rotate 90 degrees is described as 360x640, as a phone shows it."""
    info = probe(media.make_clip(tmp_path, rotate=90), Limits())
    assert (info.width, info.height, info.codec_name) == (360, 640, "h264")


BAD_INPUTS: list[tuple[str, Callable[[Path], Path], type[UserFacingError]]] = [
    ("audio-only", media.make_audio_only, AudioOnly),
    ("audio-with-cover-art", lambda d: media.make_audio_only(d, cover=True), AudioOnly),
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
    ("huge-resolution-in-mpeg-ts", media.make_huge_ts, TooLarge),  # no size before the decoder's cap
    ("encrypted", media.make_encrypted, Encrypted),
    ("undecodable-codec", media.make_undecodable, UnsupportedCodec),
]
BAD_INPUTS += [(f.__name__.removeprefix("make_"), f, NotAVideo) for f in media.DISGUISES]  # type: ignore[misc]


@pytest.mark.parametrize(("name", "make", "error"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_refused_with_the_right_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, make: Callable, error: type
) -> None:
    """Each bad or disguised input raises its UserFacingError; no secret leaks anywhere."""
    secret = media.make_secret(tmp_path)
    src = make(tmp_path, secret) if make in media.DISGUISES else make(tmp_path)
    with pytest.raises(error) as caught:
        convert(src, tmp_path / "out.gif", GifOptions(), Limits())
    assert type(caught.value) is error
    assert media.SECRET.decode() not in str(caught.value) + caplog.text
    assert not (tmp_path / "out.gif").exists()


def test_pixel_cap_refuses_large_pictures(tmp_path: Path) -> None:
    """A clip over Limits.max_pixels is refused as TooLarge before any decoding."""
    with pytest.raises(TooLarge):
        probe(media.make_clip(tmp_path), Limits(max_pixels=320 * 240))


def test_every_ffprobe_run_is_hardened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ffprobe has both whitelists and a file: URL; only the header read goes without the pixel cap."""
    argvs: list[list[str]] = []
    real_spawn = runner._spawn

    def recording_spawn(argv: list[str], *args: Any, **kwargs: Any) -> Any:
        """Keep each argv, then really start it."""
        argvs.append(argv)
        return real_spawn(argv, *args, **kwargs)

    monkeypatch.setattr(runner, "_spawn", recording_spawn)
    src = media.make_webm(tmp_path, live=True)  # no duration: header, first frames, then packets
    probe(src, Limits())
    assert len(argvs) == 3
    for argv in argvs:
        assert argv[0] == "ffprobe" and argv[-1] == f"file:{src}"
        assert argv[argv.index("-format_whitelist") + 1] == "mov,matroska,avi,mpegts,mpeg,flv,asf,ogg"
        assert argv[argv.index("-protocol_whitelist") + 1] == "file"
    uncapped = [argv for argv in argvs if "-max_pixels" not in argv]  # the header and frames run at once
    assert len(uncapped) == 1 and "-nofind_stream_info" in uncapped[0]


@pytest.mark.parametrize(
    ("stream", "size"),
    [
        ({"width": 640, "height": 360}, (640, 360)),
        ({"width": 640, "height": 360, "side_data_list": [{"rotation": -90}]}, (360, 640)),
        ({"width": 640, "height": 360, "side_data_list": [{"rotation": 180}]}, (640, 360)),
        ({"width": 640, "height": 360, "tags": {"rotate": "270"}}, (360, 640)),
    ],
)
def test_display_size_swaps_sides_for_a_quarter_turn(stream: dict[str, Any], size: tuple[int, int]) -> None:
    """A 90 or 270 degree rotation (side data or the old rotate tag) swaps width and height."""
    assert rotated(stream.pop("width"), stream.pop("height"), stream) == size


@pytest.mark.parametrize(
    ("value", "expected"),
    [("30000/1001", 30000 / 1001), ("25/1", 25.0), ("25", 25.0), ("0/0", 0.0), ("N/A", 0.0), (None, 0.0)],
)
def test_rate_parses_ffprobe_fractions(value: object, expected: float) -> None:
    """ffprobe's 'num/den' rates parse to floats; a zero denominator or garbage gives 0.0."""
    assert rate(value) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "expected"), [("2.5", 2.5), ("N/A", 0.0), (None, 0.0), ("nan", 0.0), ("inf", 0.0)]
)
def test_float_gives_zero_for_anything_not_a_finite_number(value: object, expected: float) -> None:
    """Missing, 'N/A', NaN and infinite values all read as 0.0."""
    assert number(value) == expected


@pytest.mark.parametrize(
    ("name", "make", "error"),
    [
        ("clip", media.make_clip, None),
        *[c for c in BAD_INPUTS if c[0] in ("text", "huge-resolution", "hls_disguise")],
    ],
)
def test_a_warm_probe_judges_like_a_cold_one(
    tmp_path: Path, name: str, make: Callable, error: type | None
) -> None:
    """probe() with its ffprobe runs started before the file arrived describes or refuses it alike."""
    made = make(tmp_path, media.make_secret(tmp_path)) if make in media.DISGUISES else make(tmp_path)
    (tmp_path / "work").mkdir()
    src = tmp_path / "work" / "in-upload"
    with Warm(tmp_path / "work") as warm:
        probing.warm_up(src, Limits(), warm)
        made.rename(src)
        if error is None:
            assert probe(src, Limits(), warm) == probe(src, Limits())
        else:
            with pytest.raises(error):
                probe(src, Limits(), warm)
        assert not warm.held, "both warm runs were used"


def test_a_video_with_no_key_frame_early_is_decoded_whole(tmp_path: Path) -> None:
    """probe() decodes only the first packets' key frames; a stream cut mid-GOP has none, so its
    frames are decoded whole, as before, and it is described and converted, not refused."""
    src = media.make_cut_mid_gop(tmp_path)
    (tmp_path / "work").mkdir()
    with Warm(tmp_path / "work") as warm:
        held = tmp_path / "work" / "in"
        probing.warm_up(held, Limits(), warm)
        src.rename(held)
        info = probe(held, Limits(), warm)
    assert (info.width, info.height, info.codec_name) == (320, 240, "mpeg4")
    assert info.duration == pytest.approx(4.0, abs=0.1)
    gif = convert(held, tmp_path / "out.gif", GifOptions(width=160, fps=10, max_seconds=2), Limits())
    assert gif_info(gif.path.read_bytes()).frames >= 15


def test_an_ffprobe_that_fails_after_its_output_still_refuses_the_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conversion starts on an ffprobe's output before that ffprobe has exited; one that then
    exits non-zero refuses the video as it did when it was waited for, and no GIF is left."""
    real = shutil.which("ffprobe")
    assert real is not None
    wrappers = tmp_path / "bin"
    wrappers.mkdir()
    wrapper = wrappers / "ffprobe"
    wrapper.write_text(f'#!/bin/sh\n"{real}" "$@"\nexit 3\n')  # its whole output, then a failure
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrappers}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "work").mkdir()
    src, gif = tmp_path / "work" / "in", tmp_path / "out.gif"
    with Warm(tmp_path / "work") as warm:
        probing.warm_up(src, Limits(), warm)
        media.make_clip(tmp_path).rename(src)
        with pytest.raises(BrokenVideo):
            convert(src, gif, GifOptions(width=160, fps=10, max_seconds=2), Limits(), warm=warm)
    assert not gif.exists()


def test_an_ffprobe_without_dash_o_probes_cold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An older ffprobe (no -o) gets no runs started ahead: probe() starts them itself, as before."""
    monkeypatch.setattr(probing.toolbox, "ffprobe_writes_to_file", lambda: False)
    src = media.make_clip(tmp_path)
    with Warm(tmp_path / "work") as warm:
        probing.warm_up(src, Limits(), warm)
        assert not warm.held
        assert probe(src, Limits(), warm).width > 0
