"""jobs.probe against real ffprobe: whitelisted containers pass, bad and disguised inputs are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import BrokenVideo, NotAVideo, TooLarge, UserFacingError
from jobs.fit import convert
from jobs.probe import probe
from jobs.recipe import GifOptions, Limits
from tests import media


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
