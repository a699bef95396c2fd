"""Every kind of file a phone, a camera or a program makes comes back as one faithful GIF.

The corpus (tests/devices.py) is made once per session from lavfi patterns, encoded the way each
device does; each file goes through jobs.fit.convert, the workers' own conversion.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.fit import GifResult, convert
from jobs.probe import probe
from jobs.recipe import GifOptions, Limits
from tests import devices, picturecheck
from tests.devices import Device
from tests.gifcheck import gif_info

ASPECT_TOLERANCE = 0.02  # of the display aspect ratio
TABLE: list[str] = []  # input -> what the user got, printed once at the end of the module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Every device's clip, encoded once for this module; the table of results is printed after."""
    directory = tmp_path_factory.mktemp("devices")
    yield {device.name: devices.make(device, directory) for device in devices.DEVICES}
    print("\n| input | MIME type | stored | GIF | GIF aspect / display aspect | frames | bytes | time |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(TABLE))


def convert_timed(src: Path, dst: Path) -> tuple[GifResult, float]:
    """Convert with the default options; return the result and the wall time."""
    started = time.monotonic()
    result = convert(src, dst, GifOptions(), Limits())
    return result, time.monotonic() - started


@pytest.mark.parametrize("device", devices.DEVICES, ids=[d.name for d in devices.DEVICES])
def test_each_device_file_becomes_one_gif_at_its_display_aspect(
    corpus: dict[str, Path], tmp_path: Path, device: Device
) -> None:
    """The GIF plays the whole second and has the shape a player shows, within 2 %."""
    src = corpus[device.name]
    result, seconds = convert_timed(src, tmp_path / "out.gif")
    gif = gif_info(result.path.read_bytes())
    shape = gif.width / gif.height
    TABLE.append(
        f"| {device.name} `{device.file_name}` | {device.mime_type} | {device.size[0]}x{device.size[1]} "
        f"| {gif.width}x{gif.height} | {shape:.3f} / {device.aspect:.3f} | {gif.frames} "
        f"| {result.size_bytes} | {seconds:.2f} s |"
    )
    assert (gif.width, gif.height) == (result.width, result.height)
    assert shape == pytest.approx(device.aspect, rel=ASPECT_TOLERANCE)
    assert gif.frames >= 10 and gif.duration == pytest.approx(devices.SECONDS, abs=0.15)


@pytest.mark.parametrize(
    ("name", "interlaced", "hdr"),
    [
        ("camcorder-avchd", True, False),
        ("dvd-pal-16x9", True, False),
        ("dvd-ntsc-4x3", False, False),
        ("iphone-hlg", False, True),
        ("hdr10-pq", False, True),
        ("webcam-mjpeg", False, False),
    ],
)
def test_probe_reads_scan_and_dynamic_range_as_encoded(
    corpus: dict[str, Path], name: str, interlaced: bool, hdr: bool
) -> None:
    """Interlaced camcorder and DVD video is seen as interlaced, phones' HLG and HDR10 as HDR."""
    look = probe(corpus[name], Limits()).picture
    assert (look.interlaced, look.hdr) == (interlaced, hdr)


def test_a_variable_frame_rate_recording_gives_evenly_spaced_frames(
    corpus: dict[str, Path], tmp_path: Path
) -> None:
    """Frames 10-70 ms apart in the source; in the GIF every delay is 1/12 s, rounded to 8 or 9 cs."""
    result, _ = convert_timed(corpus["screen-recording-vfr"], tmp_path / "out.gif")
    assert set(picturecheck.delays(result.path)) <= {0.08, 0.09}
