"""jobs.progress: rising fractions, a failing display dropped, -progress lines and input offsets read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.fit import convert
from jobs.progress import DECODE_SHARE, Progress, RunProgress, _read_offset, out_time_us
from jobs.recipe import GifOptions, Limits
from tests import media
from tests.services import wait_until


def test_only_rising_fractions_are_passed_on() -> None:
    """A fraction at or below the last one (a retry restarts ffmpeg's clock) is not shown."""
    seen: list[float] = []
    report = Progress(seen.append)
    for fraction in (0.1, 0.3, 0.2, 0.3, 0.6, 0.0, 1.0):
        report(fraction)
    assert seen == [0.1, 0.3, 0.6, 1.0]


def test_a_failing_callback_is_logged_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    """The first exception from the callback is logged; the callback is never called again."""
    calls: list[float] = []

    def broken(fraction: float) -> None:
        """Fail on every fraction, as a deleted status message would."""
        calls.append(fraction)
        raise RuntimeError("display gone")

    report = Progress(broken)
    report(0.1)
    report(0.5)
    assert calls == [0.1] and caplog.text.count("progress callback failed") == 1


def test_no_callback_means_nothing_to_do() -> None:
    """Progress(None) accepts fractions and does nothing with them."""
    Progress(None)(0.5)


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("out_time_us=1500000", 1500000),
        ("out_time_us=0", 0),
        ("out_time_us=N/A", None),  # before the first frame is written
        ("out_time_us=-9223372036854775807", None),
        ("out_time_ms=1500000", None),  # same figure under a misleading name; one source is enough
        ("progress=continue", None),
        ("", None),
    ],
)
def test_out_time_is_read_from_its_progress_line_only(line: str, value: int | None) -> None:
    """Only a well-formed out_time_us line yields a time; every other -progress line is ignored."""
    assert out_time_us(line) == value


def test_progress_lines_map_the_output_clock_onto_the_encode_share() -> None:
    """out_time reports DECODE_SHARE..1 in proportion to the expected play time, capped at 1."""
    seen: list[float] = []
    watch = RunProgress(seen.append, Path("/nonexistent"), expected_bytes=1, expected_us=2_000_000)
    for line in ("frame=12", "out_time_us=0", "out_time_us=1000000", "progress=end", "out_time_us=9000000"):
        watch.on_line(line)
    assert seen == pytest.approx([DECODE_SHARE, DECODE_SHARE + (1 - DECODE_SHARE) / 2, 1.0])


@pytest.fixture
def half_read(tmp_path: Path) -> Iterator[Path]:
    """A 1000-byte file this process holds open with its offset at byte 500."""
    path = tmp_path.resolve() / "input.bin"
    path.write_bytes(b"\0" * 1000)
    fd = os.open(path, os.O_RDONLY)
    os.lseek(fd, 500, os.SEEK_SET)
    yield path
    os.close(fd)


def test_decode_share_follows_how_far_the_process_has_read(half_read: Path) -> None:
    """While a process holds the input at half its expected bytes, half of DECODE_SHARE is reported."""
    seen: list[float] = []
    watch = RunProgress(seen.append, half_read, expected_bytes=1000, expected_us=1e6)
    watch.on_start(os.getpid())  # this test process stands in for ffmpeg
    try:
        wait_until(lambda: seen, timeout=5, what="a decode-phase report")
    finally:
        watch.stop()
    assert seen[0] == pytest.approx(DECODE_SHARE / 2)


def test_read_offset_is_unknown_without_an_open_input(half_read: Path, tmp_path: Path) -> None:
    """The offset comes from the process's own descriptor; an unopened file or a gone pid gives None."""
    assert _read_offset(os.getpid(), half_read) == 500
    assert _read_offset(os.getpid(), tmp_path / "never-opened") is None
    assert _read_offset(2**22 + 1, half_read) is None  # above Linux's pid_max: no such process


def test_failing_progress_callback_does_not_fail_the_conversion(tmp_path: Path) -> None:
    """A progress callback that raises is logged and dropped; the GIF is still made."""

    def broken(fraction: float) -> None:
        """Fail on every fraction, as a deleted status message would."""
        raise RuntimeError("display gone")

    result = convert(media.make_moving_marker(tmp_path), tmp_path / "out.gif", GifOptions(), Limits(), broken)
    assert result.size_bytes > 0
