"""jobs.measure: which kept frames the measuring run reads, and when."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest

from jobs import measure, palettes
from tests.services import wait_until

SIZE = (4, 2)  # tiny frames: 32 bytes each
COUNT = 16  # frames in the GIF: every 2nd is a sample, never the last two -> 0, 2, ..., 12


def frame(index: int) -> bytes:
    return bytes([index + 2]) * (SIZE[0] * SIZE[1] * 4)


WARM_UP = bytes(len(frame(0))) * palettes.WARM_UP_FRAMES  # fed first, at the run's start


def read(out: Path) -> bytes:
    """What the measuring run has read so far."""
    return out.read_bytes() if out.exists() else b""


def write_kept(kept: Path, frames: range) -> None:
    with kept.open("ab") as data:
        data.write(b"".join(frame(i) for i in frames))


@pytest.fixture
def copying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A measuring run (a real child) that copies what its FIFO gets to the file returned."""
    out = tmp_path / "run.out"

    def argv(files: palettes.FitFiles, width: int, height: int) -> list[str]:
        return ["sh", "-c", f'cat "{files.feed}" > "{out}"']

    monkeypatch.setattr(palettes, "measure_args", argv)
    return out


def test_the_run_gets_the_samples_once_all_are_on_disk(
    tmp_path: Path, copying: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed writes the warm-up frame at once, then waits for the kept frames' file, then for
    its last samples (the conversion is still decoding): the run gets the samples, whole, in order."""
    files = palettes.fit_files(tmp_path / "out.gif")
    looked, real_fstat = threading.Event(), os.fstat

    def fstat(fd: int) -> os.stat_result:
        result = real_fstat(fd)
        if result.st_size == 10 * len(frame(0)):
            looked.set()  # the feed saw the file without its last samples
        return result

    monkeypatch.setattr(measure.os, "fstat", fstat)
    measurement = measure.Measurement(files, *SIZE, COUNT, time.monotonic() + 30)
    measurement.start()  # before the conversion has made its kept frames' file
    wait_until(lambda: read(copying) == WARM_UP, 20, what="the warm-up frame, at once")
    write_kept(files.kept, range(10))  # samples 10 and 12 not written yet
    assert looked.wait(20)
    write_kept(files.kept, range(10, 16))
    assert measurement.finished(20)
    expected = WARM_UP + b"".join(frame(i) for i in range(0, 13, 2))
    assert copying.read_bytes() == expected
    measurement.close()
    assert not any(path.exists() for path in files.all())


def test_a_conversion_over_without_its_last_samples_measures_those_written(
    tmp_path: Path, copying: Path
) -> None:
    """A conversion that ended with fewer frames than estimated: the samples it wrote are
    measured (a frame being written is never sent in part)."""
    files = palettes.fit_files(tmp_path / "out.gif")
    write_kept(files.kept, range(7))
    with files.kept.open("ab") as data:
        data.write(frame(7)[:5])  # a frame cut short
    measurement = measure.Measurement(files, *SIZE, COUNT, time.monotonic() + 30)
    measurement.start()
    assert measurement.gain() == 0.0  # the conversion is over; no stats from this run
    expected = WARM_UP + b"".join(frame(i) for i in (0, 2, 4, 6))
    assert copying.read_bytes() == expected
    measurement.close()


def test_no_kept_frames_means_no_samples_and_one_palette(tmp_path: Path, copying: Path) -> None:
    """The conversion wrote no frame at all: the run reads the warm-up alone, nothing waits, one palette."""
    files = palettes.fit_files(tmp_path / "out.gif")
    measurement = measure.Measurement(files, *SIZE, COUNT, time.monotonic() + 30)
    measurement.start()
    assert measurement.gain() == 0.0
    assert copying.read_bytes() == WARM_UP
    measurement.close()
    assert not any(path.exists() for path in files.all())


def test_the_real_run_measures_the_samples_and_not_its_warm_up_frame(tmp_path: Path) -> None:
    """Real ffmpeg: the measuring run set up on the warm-up frame (zeros) while the conversion
    still decodes, then measures exactly the samples: one psnr line each way per sample."""
    size, count = (64, 32), 16
    noise = random.Random(7)
    files = palettes.fit_files(tmp_path / "out.gif")
    files.kept.write_bytes(noise.randbytes(size[0] * size[1] * 4 * count))
    measurement = measure.Measurement(files, *size, count, time.monotonic() + 30)
    measurement.start()
    assert measurement.finished(20)
    lines = [path.read_text().count("mse_avg:") for path in files.stats]
    assert lines == [len(palettes.samples(count))] * 2
    measurement.close()
