"""jobs.progress: rising fractions, a failing display dropped, -progress lines and input offsets read."""

from __future__ import annotations

from pathlib import Path

from jobs.fit import convert
from jobs.recipe import GifOptions, Limits
from tests import media


def test_failing_progress_callback_does_not_fail_the_conversion(tmp_path: Path) -> None:
    """A progress callback that raises is logged and dropped; the GIF is still made."""

    def broken(fraction: float) -> None:
        """Fail on every fraction, as a deleted status message would."""
        raise RuntimeError("display gone")

    result = convert(media.make_moving_marker(tmp_path), tmp_path / "out.gif", GifOptions(), Limits(), broken)
    assert result.size_bytes > 0
