"""jobs.gifblocks: the shorter of ffmpeg's two encodings of each frame, spliced into one GIF, and
a measurement without its FIFOs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jobs import gifblocks, measure, palettes
from jobs.fit import convert_once
from jobs.probe import probe
from jobs.recipe import GifOptions, Limits, Palette, build_convert_args
from jobs.runner import run
from tests import media


def shown(gif: Path) -> bytes:
    """Every frame a player shows at 12 fps, as RGB pixels (delays applied)."""
    argv = ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(gif), "-vf", "fps=12", "-f", "rawvideo"]
    return subprocess.run([*argv, "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout


def two_encodings(directory: Path, source: str) -> tuple[Path, Path]:
    """The measured conversion's GIF of a lavfi clip and its encoding without transparency."""
    src = media.lavfi_clip(directory / "clip.mp4", source)
    dst, files = directory / "out.gif", palettes.fit_files(directory / "out.gif")
    argv = build_convert_args(
        src, dst, probe(src, Limits()), GifOptions(), Limits(), palette=Palette(fit=files)
    )
    run(argv, timeout=60)
    return dst, files.opaque


@pytest.fixture(scope="module")
def grainy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Test graphics under grain that comes and goes: transparency pays on some frames, not all."""
    source = "testsrc2=s=480x270:r=12:d=2,noise=alls=14:allf=t:enable='lt(mod(t,1),0.5)'"
    return two_encodings(tmp_path_factory.mktemp("grainy"), source)


def test_each_frame_keeps_its_shorter_encoding_and_every_pixel(
    tmp_path: Path, grainy: tuple[Path, Path]
) -> None:
    """The splice takes the shorter of the two encodings of each frame: smaller than either GIF,
    and a player shows exactly the same pixels at the same times as from ffmpeg's own GIF."""
    transparent, opaque = (tmp_path / name for name in ("out.gif", "opaque.gif"))
    transparent.write_bytes(grainy[0].read_bytes())
    opaque.write_bytes(grainy[1].read_bytes())
    one, other = (gifblocks.layout(path.read_bytes()) for path in (transparent, opaque))
    assert one is not None and other is not None and len(one.frames) == len(other.frames) == 24
    assert any(len(a) < len(b) for a, b in zip(one.frames, other.frames, strict=True))
    assert any(len(a) > len(b) for a, b in zip(one.frames, other.frames, strict=True))
    assert gifblocks.splice_smaller(transparent, opaque)
    spliced = gifblocks.layout(transparent.read_bytes())
    assert spliced is not None and spliced.head == one.head
    pairs = zip(one.frames, other.frames, strict=True)
    assert [len(f) for f in spliced.frames] == [min(len(a), len(b)) for a, b in pairs]
    assert transparent.stat().st_size < min(grainy[0].stat().st_size, opaque.stat().st_size)
    assert shown(transparent) == shown(grainy[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["opaque.gif", "out.gif"]


def _broken(data: bytes, how: str) -> bytes:
    """`data` (a GIF from ffmpeg) spoiled one way."""
    layout = gifblocks.layout(data)
    assert layout is not None
    first, *rest = layout.frames
    if how == "cut-off":
        return data[: len(data) * 2 // 3]
    if how == "disposal":  # the second frame clears its area after it is shown
        second = bytearray(rest[0])
        second[3] = (second[3] & ~0x1C) | (2 << 2)
        return layout.head + first + bytes(second) + b"".join(rest[1:]) + b";"
    if how == "control-size":  # a control extension whose block is not the 4 bytes it must be
        second = bytearray(rest[0])
        second[2] = 3
        return layout.head + first + bytes(second) + b"".join(rest[1:]) + b";"
    if how == "comment":  # an extension between frames that no frame owns
        return layout.head + first + b"\x21\xfe\x02hi\x00" + b"".join(rest) + b";"
    if how == "no-trailer":
        return data[:-1]
    if how == "fewer-frames":
        return layout.head + first + b"".join(rest[:-1]) + b";"
    if how == "other-head":
        return layout.head[:13] + bytes(3) + layout.head[16:] + first + b"".join(rest) + b";"
    return b"not a GIF at all"


@pytest.mark.parametrize(
    "how",
    ["cut-off", "disposal", "control-size", "comment", "no-trailer", "fewer-frames", "other-head", "garbage"],
)
def test_an_encoding_that_does_not_match_leaves_ffmpegs_gif_as_it_is(
    tmp_path: Path, grainy: tuple[Path, Path], how: str
) -> None:
    """A second encoding that is cut off, clears a frame, has a malformed control block, holds
    another block, lacks its trailer, has fewer frames or another head (or is no GIF) leaves the
    first GIF byte for byte."""
    transparent, opaque = tmp_path / "out.gif", tmp_path / "opaque.gif"
    transparent.write_bytes(grainy[0].read_bytes())
    opaque.write_bytes(_broken(grainy[1].read_bytes(), how))
    if how in ("cut-off", "disposal", "control-size", "comment", "no-trailer", "garbage"):
        assert gifblocks.layout(opaque.read_bytes()) is None
    assert not gifblocks.splice_smaller(transparent, opaque)
    assert transparent.read_bytes() == grainy[0].read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["opaque.gif", "out.gif"]


def test_a_missing_encoding_leaves_ffmpegs_gif(tmp_path: Path, grainy: tuple[Path, Path]) -> None:
    """No second encoding on disk (ffmpeg could not write it): the GIF stays as it is."""
    transparent = tmp_path / "out.gif"
    transparent.write_bytes(grainy[0].read_bytes())
    assert not gifblocks.splice_smaller(transparent, tmp_path / "missing.gif")
    assert transparent.read_bytes() == grainy[0].read_bytes()


def test_clean_graphics_keep_ffmpegs_gif_when_nothing_is_shorter(tmp_path: Path) -> None:
    """Flat test graphics: transparency is shorter for every frame (or as short), so nothing is
    rewritten."""
    transparent, opaque = two_encodings(tmp_path, "testsrc2=s=480x270:r=12:d=1")
    before = transparent.read_bytes()
    one, other = (gifblocks.layout(path.read_bytes()) for path in (transparent, opaque))
    assert one is not None and other is not None
    assert all(len(a) <= len(b) for a, b in zip(one.frames, other.frames, strict=True))
    assert not gifblocks.splice_smaller(transparent, opaque)
    assert transparent.read_bytes() == before


@pytest.mark.skipif(not palettes.can_rewrite(), reason="gifsicle is not installed")
def test_no_fifo_for_the_measurement_keeps_one_palette_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no FIFO can be made, the measurement says one palette at once (no run waits for a
    feed), the GIF is made, and no file is left beside it."""

    def no_fifo(path: Path, mode: int = 0o666) -> None:
        raise PermissionError(f"no FIFO at {path}")

    monkeypatch.setattr(measure.os, "mkfifo", no_fifo)
    src = media.lavfi_clip(tmp_path / "clip.mp4", "testsrc2=s=480x270:r=12:d=2")
    size, _wall, _cpu = convert_once(src, tmp_path / "out.gif", probe(src, Limits()), GifOptions(), Limits())
    assert size == (tmp_path / "out.gif").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.gif"]


def test_parts_that_do_not_fit_are_not_joined(tmp_path: Path, grainy: tuple[Path, Path]) -> None:
    """Parts of another screen size, a first part with fewer frames than asked for, or a part that
    is no GIF: no join and no file; two fitting parts join, each frame of the second keeping a
    colour table of its own."""
    first, dst = grainy[0], tmp_path / "joined.gif"
    small = two_encodings(tmp_path, "testsrc2=s=320x180:r=12:d=1")[0]
    garbage = tmp_path / "garbage.gif"
    garbage.write_bytes(b"GIF89a not really")
    assert not gifblocks.join_parts(first, 5, small, dst)
    assert not gifblocks.join_parts(first, 25, first, dst)
    assert not gifblocks.join_parts(first, 5, garbage, dst) and not dst.exists()
    assert gifblocks.join_parts(first, 5, first, dst)
    joined = gifblocks.layout(dst.read_bytes())
    assert joined is not None and len(joined.frames) == 5 + 24
    assert all(frame[8 + 9] & 0x80 for frame in joined.frames[5:])  # each its own table
