"""Video stickers: Telegram's size rules, and a sticker that cannot fit its cap is never handed over."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import GifTooBig
from jobs import sticker
from jobs.recipe import GifOptions, Limits
from tests import media


@pytest.mark.parametrize(
    ("size", "sides"),
    [
        ((1920, 1080), (512, 288)),
        ((1080, 1920), (288, 512)),
        ((160, 120), (512, 384)),
        ((300, 300), (512, 512)),
    ],
)
def test_the_long_side_is_512_and_the_other_in_proportion(size, sides):
    """One side exactly 512 px (small videos scaled up), the other even and at most 512."""
    assert sticker.sticker_size(*size) == sides


def test_a_sticker_that_cannot_get_under_the_cap_is_refused(tmp_path: Path):
    """Past its tries at lower bitrates a sticker still over the cap raises GifTooBig and leaves no file."""
    src = tmp_path / "busy.mp4"
    noise = "testsrc2=s=160x90:r=24:d=1.2,noise=alls=60:allf=t+u,scale=640:360:flags=neighbor"
    media.ffmpeg("-f", "lavfi", "-i", noise, "-c:v", "libx264", "-preset", "ultrafast", str(src))
    dst = tmp_path / "sticker.webm"
    with pytest.raises(GifTooBig):
        sticker.convert(src, dst, GifOptions(fps=10), Limits(), cap=4000)  # VP9 cannot go that low
    assert not dst.exists()
