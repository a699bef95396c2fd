"""jobs.palettes: one palette or one per frame, chosen by measuring both, and gifsicle's rewrite."""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobs import fit, gifblocks, headstart, measure, palettes, passes
from jobs.fit import convert_once
from jobs.probe import probe
from jobs.recipe import GifOptions, Limits, per_frame_args
from jobs.runner import FFmpegFailed
from jobs.runner import run as real_run
from tests import media
from tests.gifcheck import gif_info

needs_gifsicle = pytest.mark.skipif(not palettes.can_rewrite(), reason="gifsicle is not installed")


def make_scenes(directory: Path) -> Path:
    """Three 1 s scenes with colours of their own (two gradients, a Mandelbrot), hard cuts between."""
    scenes = [
        "gradients=s=480x270:r=12:d=1:nb_colors=8:speed=0.0001:seed=1:type=radial",
        "mandelbrot=s=480x270:r=12,trim=duration=1",
        "gradients=s=480x270:r=12:d=1:nb_colors=8:speed=0.0001:seed=3:type=spiral",
    ]
    dst = directory / "scenes.mp4"
    inputs = [arg for scene in scenes for arg in ("-f", "lavfi", "-i", scene)]
    graph = "[0][1][2]concat=n=3,format=yuv420p"
    media.ffmpeg(*inputs, "-filter_complex", graph, "-c:v", "libx264", "-crf", "18", str(dst))
    return dst


def local_palettes(gif: Path) -> int:
    """How many frames of `gif` carry a palette of their own (gifsicle's --info)."""
    info = subprocess.run(["gifsicle", "--info", str(gif)], capture_output=True, text=True, check=True)
    return info.stdout.count("local color table")


def convert_probed(src: Path, dst: Path) -> int:
    """convert_once with the default options; return the GIF's size."""
    size, _wall, _cpu = convert_once(src, dst, probe(src, Limits()), GifOptions(), Limits())
    return size


@needs_gifsicle
def test_scenes_with_their_own_colours_get_a_palette_per_frame(tmp_path: Path) -> None:
    """Hard cuts between differently coloured scenes: per-frame palettes, then gifsicle; no temp files."""
    src, dst = make_scenes(tmp_path), tmp_path / "out.gif"
    size = convert_probed(src, dst)
    assert size == dst.stat().st_size and local_palettes(dst) >= 3
    info = gif_info(dst.read_bytes())
    assert (info.width, info.height) == (480, 270) and abs(info.duration - 3.0) < 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gif", "scenes.mp4"]


@needs_gifsicle
def test_the_measuring_run_starts_with_the_conversion_and_is_fed_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The measurement is an ffmpeg run of its own, started with the conversion and fed a warm-up
    frame at once, while the video decodes (before the conversion's first -progress line), then
    the sampled kept frames through a FIFO while the conversion still runs, and its verdict
    comes: both runs are real, only their times noted."""
    times: dict[str, list[float]] = {"measure": [], "line": [], "fed": [], "converted": []}

    def measuring(argv: list[str], timeout: float) -> None:
        times["measure"].append(time.monotonic())
        assert argv[argv.index("-i") + 1].endswith(".fifo")
        real_run(argv, timeout)

    def converting(
        argv: list[str], timeout: float, on_line: Callable[[str], None], *args: object, **kwargs: object
    ) -> None:
        def noting(line: str) -> None:
            times["line"].append(time.monotonic())
            on_line(line)

        real_run(argv, timeout, noting, *args, **kwargs)
        times["converted"].append(time.monotonic())

    writer = measure.fifo.writer

    @contextlib.contextmanager
    def feeding(path: Path, gone: Callable[[], bool]) -> Iterator[object]:
        with writer(path, gone) as fifo:
            real_write = fifo.write

            def write(data: bytes) -> int:
                times["fed"].append(time.monotonic())  # the warm-up frame first, then the samples
                return real_write(data)

            fifo.write = write  # type: ignore[method-assign]
            yield fifo

    monkeypatch.setattr(measure, "run", measuring)
    monkeypatch.setattr(fit, "run", converting)
    monkeypatch.setattr(measure.fifo, "writer", feeding)
    src, dst = make_scenes(tmp_path), tmp_path / "out.gif"
    convert_probed(src, dst)
    warm_up, *samples = times["fed"]
    assert len(times["measure"]) == 1 and len(samples) > 1 and times["line"]
    assert max(times["measure"]) < warm_up < times["line"][0]  # set up while the video decodes
    assert warm_up < min(samples) < times["converted"][0]
    assert local_palettes(dst) >= 3  # its verdict came: per-frame palettes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gif", "scenes.mp4"]


@needs_gifsicle
def test_a_failed_measurement_keeps_one_palette(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the measuring run fails, the GIF keeps its one palette (spliced), no file is left."""
    failing = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-i",
        f"file:{tmp_path / 'missing.bgra'}",
        "-f",
        "null",
        "-",
    ]
    monkeypatch.setattr(palettes, "measure_args", lambda files, width, height: failing)
    src, dst = make_scenes(tmp_path), tmp_path / "out.gif"
    size = convert_probed(src, dst)
    assert size == dst.stat().st_size and local_palettes(dst) <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gif", "scenes.mp4"]


@needs_gifsicle
def test_footage_in_one_colour_world_keeps_one_palette(tmp_path: Path) -> None:
    """Test graphics whose colours stay put keep the single palette: at most the first frame has one."""
    src, dst = media.make_clip(tmp_path, seconds=2.0), tmp_path / "out.gif"
    convert_probed(src, dst)
    assert local_palettes(dst) <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.gif"]


def test_without_gifsicle_every_gif_keeps_one_palette(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A box without gifsicle neither measures nor converts twice: one palette, one ffmpeg run."""
    installed = palettes.can_rewrite()
    monkeypatch.setattr(palettes, "can_rewrite", lambda: False)
    src, dst = make_scenes(tmp_path), tmp_path / "out.gif"
    convert_probed(src, dst)
    data = dst.read_bytes()
    assert data[:6] == b"GIF89a" and not any(p.name.endswith(".log") for p in tmp_path.iterdir())
    if installed:  # gifsicle is here after all, so it can read the palettes back
        assert local_palettes(dst) <= 1


def test_gain_is_the_mean_squared_error_one_palette_has_over_per_frame_ones(tmp_path: Path) -> None:
    """The gain is mean(mse_avg) of the one-palette file minus the per-frame file's; unreadable: 0."""
    one, each = tmp_path / "one.log", tmp_path / "each.log"
    one.write_text("n:1 mse_avg:10.00 mse_r:9 psnr_avg:38.1\nn:2 mse_avg:14.00 mse_r:9 psnr_avg:36.7\n")
    each.write_text(
        "n:1 mse_avg:3.50 mse_r:3 psnr_avg:42.7\nn:2 mse_avg:inf psnr_avg:inf\nn:3 mse_avg:4.50\n"
    )
    assert palettes.per_frame_gain((one, each)) == pytest.approx(8.0)
    assert palettes.per_frame_gain((one, tmp_path / "missing.log")) == 0.0
    (tmp_path / "empty.log").write_text("")
    assert palettes.per_frame_gain((tmp_path / "empty.log", each)) == 0.0


def test_rewrite_is_lossless_and_writes_a_new_file() -> None:
    """gifsicle only optimises (-O1, no --lossy or colour reduction) and writes to the given path."""
    argv = palettes.rewrite_args(Path("/w/frames.gif"), Path("/w/out.gif"))
    assert argv[0] == "gifsicle" and "-O1" in argv and argv[-1] == "/w/frames.gif"
    assert argv[argv.index("-o") + 1] == "/w/out.gif"
    assert not any(a.startswith(("--lossy", "--colors", "-k")) for a in argv)


@needs_gifsicle
def test_a_failed_rewrite_keeps_the_one_palette_gif(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If gifsicle fails, the job still gets the one-palette GIF of the first run, and no temp file."""
    monkeypatch.setattr(palettes, "rewrite_args", lambda src, dst: ["gifsicle", "--no-such-option", str(src)])
    monkeypatch.setattr(palettes, "split_point", lambda frames: None)  # made in one run
    src, dst = make_scenes(tmp_path), tmp_path / "out.gif"
    size = convert_probed(src, dst)
    assert size == dst.stat().st_size and local_palettes(dst) <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gif", "scenes.mp4"]


@needs_gifsicle
@pytest.mark.parametrize("early", [True, False], ids=["first-part-early", "both-parts-at-the-end"])
def test_a_gif_made_in_two_parts_at_once_is_the_gif_one_run_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early: bool
) -> None:
    """Per-frame palettes in two ffmpeg runs at once, joined by gifsicle: byte for byte the file one
    run makes (every frame, its palette and its delay), and no part left behind, whether the first
    part started while the conversion still mapped its one palette or both started after it."""
    src = make_scenes(tmp_path)
    cuts: list[int | None] = []
    split_point = palettes.split_point
    monkeypatch.setattr(palettes, "split_point", lambda frames: cuts.append(split_point(frames)) or cuts[-1])
    monkeypatch.setattr(palettes.os, "sched_getaffinity", lambda _pid: {0, 1})  # two CPUs, even on one
    taken: list[int | None] = []
    take = headstart.HeadStart.take

    def taking(self: headstart.HeadStart, frames: int, repeats: list[int]) -> headstart.FirstPart | None:
        part = take(self, frames, repeats)
        taken.append(None if part is None else part.split)
        return part

    monkeypatch.setattr(headstart.HeadStart, "take", taking)
    if not early:
        monkeypatch.setattr(headstart, "MARGIN_FRAMES", 36)  # never enough frames on disk
    convert_probed(src, tmp_path / "parts.gif")
    if early:  # 3 s at 12 fps: 60 % of the frames on disk, less a margin (more when it started late)
        assert len(taken) == 1 and taken[0] is not None and 15 <= taken[0] < 33, taken
    else:
        assert taken == [None] and cuts[-1] == 18  # cut in the middle
    monkeypatch.setattr(palettes, "split_point", lambda frames: None)
    convert_probed(src, tmp_path / "whole.gif")
    parts, whole = (tmp_path / name for name in ("parts.gif", "whole.gif"))
    assert local_palettes(parts) >= 3 and parts.read_bytes() == whole.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parts.gif", "scenes.mp4", "whole.gif"]


@needs_gifsicle
@pytest.mark.parametrize(
    "options", [GifOptions(), GifOptions(speed=2.0, reverse=True)], ids=["plain", "2x-reversed"]
)
def test_per_frame_palettes_start_from_the_frames_the_first_conversion_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: GifOptions
) -> None:
    """The per-frame runs read the frames the one-palette conversion kept (no second decode of the
    video) and make a GIF that shows the very pixels, at the same times, of the GIF that decoding it
    again makes, in fewer frames (a copy of the frame before gets none) and no more bytes; the kept
    frames then go."""
    src = make_scenes(tmp_path)
    monkeypatch.setattr(palettes.os, "sched_getaffinity", lambda _pid: {0, 1})
    inputs: list[str] = []

    def recording(argv: list[str], *args: object, **kwargs: object) -> None:
        inputs.extend(argv[i + 1] for i, arg in enumerate(argv) if arg == "-i")
        real_run(argv, *args, **kwargs)

    monkeypatch.setattr(passes, "run", recording)
    monkeypatch.setattr(headstart, "run", recording)  # a first part started early
    info = probe(src, Limits())
    convert_once(src, tmp_path / "kept.gif", info, options, Limits())
    assert len(inputs) == 2 and all(i.endswith("kept-fit-kept.bgra") for i in inputs), inputs
    monkeypatch.setattr(palettes.FitFiles, "kept_frames", lambda self, width, height: 0)
    inputs.clear()
    convert_once(src, tmp_path / "decoded.gif", info, options, Limits())
    assert inputs == [f"file:{src}"] * 2
    kept, decoded = (tmp_path / name for name in ("kept.gif", "decoded.gif"))
    assert local_palettes(kept) >= 3 and shown_frames(kept) == shown_frames(decoded)
    if options.speed == 1.0:  # the still scenes' near-copies became copies, and get no frame
        assert gif_info(kept.read_bytes()).frames < gif_info(decoded.read_bytes()).frames
        assert kept.stat().st_size <= decoded.stat().st_size
    else:  # no thinning after a speed change, so no copies: byte for byte the same GIF
        assert kept.read_bytes() == decoded.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decoded.gif", "kept.gif", "scenes.mp4"]


@needs_gifsicle
@pytest.mark.parametrize("per_frame_fails", [False, True], ids=["per-frame", "per-frame-failed"])
def test_a_measurement_already_ended_for_per_frame_palettes_splices_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_frame_fails: bool
) -> None:
    """When the measurement has chosen per-frame palettes by the time the one-palette conversion
    ends, its GIF is not spliced (it is about to go); if the per-frame runs fail, it is spliced
    as usual. gifsicle only ever crops the per-frame GIF (-O1), never repacks a measured one."""
    monkeypatch.setattr(measure.Measurement, "done", lambda self: (self.gain(), True)[1])
    if per_frame_fails:
        monkeypatch.setattr(palettes, "rewrite_args", lambda src, dst: ["gifsicle", "--no-such-option"])
        monkeypatch.setattr(palettes, "join_args", lambda parts, split, dst: ["gifsicle", "--no-such-option"])
    ran: list[str] = []
    splice = gifblocks.splice_smaller

    def recording(argv: list[str], *args: object, **kwargs: object) -> None:
        ran.extend(arg for arg in argv if arg in ("-O1", "-O2"))
        real_run(argv, *args, **kwargs)

    monkeypatch.setattr(passes, "run", recording)
    monkeypatch.setattr(gifblocks, "splice_smaller", lambda *gifs: ran.append("splice") or splice(*gifs))
    dst = tmp_path / "out.gif"
    convert_probed(make_scenes(tmp_path), dst)
    assert ran == ([] if per_frame_fails else ["-O1"]) + (["splice"] if per_frame_fails else [])
    assert (local_palettes(dst) <= 1) == per_frame_fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gif", "scenes.mp4"]


def test_only_a_long_gif_on_two_cpus_is_made_in_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fewer than twice PART_MIN_FRAMES frames, or one CPU: one run; else the cut is in the middle."""
    monkeypatch.setattr(palettes.os, "sched_getaffinity", lambda _pid: {0, 1})
    assert palettes.split_point(2 * palettes.PART_MIN_FRAMES - 1) is None
    assert palettes.split_point(2 * palettes.PART_MIN_FRAMES) == palettes.PART_MIN_FRAMES
    assert palettes.split_point(181) == 90
    monkeypatch.setattr(palettes.os, "sched_getaffinity", lambda _pid: {3})
    assert palettes.split_point(180) is None


@needs_gifsicle
def test_a_failed_part_keeps_the_one_palette_gif(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the join of the two parts fails, the job gets the one-palette GIF: the very pixels a
    clip that is not measured gets, at the same times, and no part is left."""
    monkeypatch.setattr(palettes.os, "sched_getaffinity", lambda _pid: {0, 1})
    monkeypatch.setattr(palettes, "join_args", lambda parts, split, dst: ["gifsicle", "--no-such-option"])
    src, dst = make_scenes(tmp_path), tmp_path / "out.gif"
    size = convert_probed(src, dst)
    assert size == dst.stat().st_size and local_palettes(dst) <= 1
    monkeypatch.setattr(palettes, "worth_measuring", lambda frames, width, height: False)
    convert_probed(src, tmp_path / "one.gif")
    assert shown_frames(dst) == shown_frames(tmp_path / "one.gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.gif", "out.gif", "scenes.mp4"]


@needs_gifsicle
def test_a_failed_early_first_part_keeps_the_one_palette_gif(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first part started early whose run fails: the job gets the one-palette GIF, and neither
    part nor the measurement's files are left."""
    monkeypatch.setattr(palettes.os, "sched_getaffinity", lambda _pid: {0, 1})

    def failing(argv: list[str], *args: object, **kwargs: object) -> None:
        raise FFmpegFailed("ffmpeg", 1)

    monkeypatch.setattr(headstart, "run", failing)
    src, dst = make_scenes(tmp_path), tmp_path / "out.gif"
    size = convert_probed(src, dst)
    assert size == dst.stat().st_size and local_palettes(dst) <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gif", "scenes.mp4"]


@needs_gifsicle
def test_long_gifs_are_not_measured_so_memory_stays_in_bound():
    """The measuring run takes memory while the conversion holds every frame: a 15 s default GIF is
    measured, the 30 s 1080x1920 phone clip's (270x480, 12 fps) is not, and keeps one palette."""
    assert palettes.worth_measuring(15 * 12, 480, 270)
    assert not palettes.worth_measuring(30 * 12, 270, 480)
    assert not palettes.worth_measuring(16 * 12, 480, 270)


def make_grainy(directory: Path) -> Path:
    """2 s of test graphics under temporal grain, like a camera's: few pixels repeat exactly."""
    return media.lavfi_clip(directory / "grainy.mp4", "testsrc2=s=480x270:r=24:d=2,noise=alls=14:allf=t")


def shown_frames(gif: Path) -> bytes:
    """What a player shows at 12 fps: every frame's RGB pixels, delays applied."""
    argv = ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(gif), "-vf", "fps=12", "-f", "rawvideo"]
    done = subprocess.run([*argv, "-pix_fmt", "rgb24", "-"], capture_output=True, check=True)
    return done.stdout


def ffmpeg_only(src: Path, dst: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The GIF ffmpeg alone writes for `src` (no gifsicle on this 'box')."""
    with monkeypatch.context() as patch:
        patch.setattr(palettes, "can_rewrite", lambda: False)
        convert_probed(src, dst)
    return dst.read_bytes()


@needs_gifsicle
@pytest.mark.parametrize("measured", [True, False], ids=["spliced", "repacked"])
def test_one_palette_gif_is_made_smaller_with_the_same_pixels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, measured: bool
) -> None:
    """Grainy footage: the splice of ffmpeg's two encodings (a measured GIF) or gifsicle's repack
    (a GIF too long to be measured) is smaller than ffmpeg's GIF, shows the very same pixels at
    the same times, and leaves no file behind."""
    src = make_grainy(tmp_path)
    plain = ffmpeg_only(src, tmp_path / "plain.gif", monkeypatch)
    if not measured:
        monkeypatch.setattr(palettes, "worth_measuring", lambda frames, width, height: False)
    size = convert_probed(src, tmp_path / "out.gif")
    print(f"\nffmpeg's GIF {len(plain)} B, repacked {size} B ({size / len(plain):.3f})")
    assert size < len(plain) and local_palettes(tmp_path / "out.gif") <= 1
    assert shown_frames(tmp_path / "out.gif") == shown_frames(tmp_path / "plain.gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grainy.mp4", "out.gif", "plain.gif"]


@needs_gifsicle
@pytest.mark.parametrize(
    "repack",
    [
        ["gifsicle", "--no-warnings", "--comment", "x" * 4000],  # a valid GIF, only bigger
        ["gifsicle", "--no-such-option"],  # gifsicle fails
    ],
    ids=["bigger", "failed"],
)
def test_ffmpegs_gif_stays_when_the_repack_is_not_smaller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repack: list[str]
) -> None:
    """A repack (of a GIF too long to be measured) that is bigger, or that fails, leaves ffmpeg's
    GIF byte for byte; no temp file."""
    src = make_grainy(tmp_path)
    plain = ffmpeg_only(src, tmp_path / "plain.gif", monkeypatch)
    monkeypatch.setattr(palettes, "worth_measuring", lambda frames, width, height: False)
    monkeypatch.setattr(palettes, "repack_args", lambda src, dst: [*repack, "-o", str(dst), str(src)])
    convert_probed(src, tmp_path / "out.gif")
    assert (tmp_path / "out.gif").read_bytes() == plain
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grainy.mp4", "out.gif", "plain.gif"]


def test_repack_is_lossless_and_writes_a_new_file() -> None:
    """The repack only optimises (-O2: no --lossy or colour reduction) and writes to the given path."""
    argv = palettes.repack_args(Path("/w/ffmpeg.gif"), Path("/w/out.gif"))
    assert argv[0] == "gifsicle" and "-O2" in argv and argv[-1] == "/w/ffmpeg.gif"
    assert argv[argv.index("-o") + 1] == "/w/out.gif"
    assert not any(a.startswith(("--lossy", "--colors", "-k")) for a in argv)


def test_copies_of_the_frame_before_are_found_in_the_kept_frames(tmp_path: Path) -> None:
    """Exact copies of the frame before are repeats; the first and the last two frames never are
    (the last one is timed by the one before it), and a frame one byte off is no copy."""
    a, b = bytes(2 * 2 * 4), bytes([1] * 16)
    nudged = bytes([0] * 15 + [1])
    kept = tmp_path / "kept.bgra"
    kept.write_bytes(a + a + a + b + b + nudged + nudged + nudged + nudged)
    assert palettes.frame_changes(kept, (2, 2), 9).repeats == [1, 2, 4, 6]
    assert palettes.frame_changes(kept, (2, 2), 4).repeats == [1]
    assert palettes.frame_changes(kept, (2, 2), 3).repeats == []
    assert palettes.shown_before(5, [1, 2, 4]) == 2 and palettes.shown_before(1, [1, 2, 4]) == 1


def _frame(width: int, height: int, value: int, keep: str = "") -> bytes:
    """A BGRA frame of `value` everywhere, but 0 in the edge named by `keep` (top, bottom, left,
    right), so two such frames differ everywhere but there."""
    rows = [bytearray([value] * width * 4) for _ in range(height)]
    if keep in ("top", "bottom"):
        rows[0 if keep == "top" else -1] = bytearray(width * 4)
    for row in rows if keep in ("left", "right") else []:
        column = 0 if keep == "left" else (width - 1) * 4
        row[column : column + 4] = bytes(4)
    return b"".join(rows)


@pytest.mark.parametrize("edge", ["top", "bottom", "left", "right", ""])
def test_frames_that_leave_an_edge_as_it_was_can_be_cropped(tmp_path: Path, edge: str) -> None:
    """A frame whose top or bottom row, or left or right column, is the frame before's leaves
    gifsicle something to crop; frames that change at every edge leave it nothing."""
    kept = tmp_path / "kept.bgra"
    kept.write_bytes(b"".join(_frame(4, 3, v, edge) for v in (10, 20, 30, 40)))
    assert palettes.frame_changes(kept, (4, 3), 4).croppable == bool(edge)
    kept.write_bytes(b"".join(_frame(4, 3, v) for v in (10, 20, 30, 30)))  # the last two alike
    assert palettes.frame_changes(kept, (4, 3), 4) == palettes.FrameChanges([], True)


def test_a_repeat_gets_no_palette_of_its_own_and_parts_count_the_frames_shown(tmp_path: Path) -> None:
    """The per-frame run drops the repeats (its frame before is shown longer) before it cuts its
    part, whose bounds are then counted in the frames that are left."""
    kept, dst = tmp_path / "kept.bgra", tmp_path / "out.gif"
    argv = per_frame_args(kept, dst, (480, 270), 12.0, (10, None), [3, 4, 5, 12])
    graph = argv[argv.index("-filter_complex") + 1]
    dropped = r"select=not(between(n\,3\,5)+between(n\,12\,12))"  # commas escaped for the graph
    assert re.match(rf"\[0\]{re.escape(dropped)}\[(s\d+)\];\[\1\]trim=start_frame=7\[", graph), graph
    assert "stats_mode=single" in graph and "new=1" in graph
    first = per_frame_args(kept, dst, (480, 270), 12.0, (0, 11), [3, 4, 5, 12])
    assert "trim=end_frame=8:start_frame=0[" in first[first.index("-filter_complex") + 1]
    plain = per_frame_args(kept, dst, (480, 270), 12.0, None, [])
    assert "select" not in plain[plain.index("-filter_complex") + 1]
    assert argv[-1] == f"file:{dst}" and argv[argv.index("-i") + 1] == f"file:{kept}"


def make_churning(directory: Path) -> Path:
    """2 s of test graphics under heavy grain: every frame changes at every edge."""
    return media.lavfi_clip(directory / "churn.mp4", "testsrc2=s=480x270:r=12:d=2,noise=alls=40:allf=t")


@needs_gifsicle
@pytest.mark.parametrize("cpus", [{0}, {0, 1}], ids=["whole", "two-parts"])
def test_per_frame_gifs_that_change_at_every_edge_skip_gifsicle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpus: set[int]
) -> None:
    """Per-frame palettes on frames that change at all four edges: gifsicle has nothing to crop and
    is not run; the parts are joined here. A player shows the same pixels at the same times as
    from gifsicle's GIF, at no more than 0.1 % more bytes."""
    monkeypatch.setattr(palettes, "PER_FRAME_GAIN_MSE", -1.0)  # per-frame palettes, whatever the gain
    monkeypatch.setattr(palettes.os, "sched_getaffinity", lambda _pid: cpus)
    ran: list[str] = []

    def recording(argv: list[str], *args: object, **kwargs: object) -> None:
        ran.extend(arg for arg in argv if arg in ("-O1", "-O2"))
        real_run(argv, *args, **kwargs)

    monkeypatch.setattr(passes, "run", recording)
    src = make_churning(tmp_path)
    convert_probed(src, tmp_path / "joined.gif")
    assert ran == [] and local_palettes(tmp_path / "joined.gif") >= 20
    changes = palettes.frame_changes
    monkeypatch.setattr(
        palettes, "frame_changes", lambda *a: palettes.FrameChanges(changes(*a).repeats, True)
    )
    convert_probed(src, tmp_path / "cropped.gif")
    assert ran == ["-O1"]
    joined, cropped = (tmp_path / name for name in ("joined.gif", "cropped.gif"))
    assert shown_frames(joined) == shown_frames(cropped)
    assert gif_info(joined.read_bytes()) == gif_info(cropped.read_bytes())
    assert joined.stat().st_size <= cropped.stat().st_size * 1.001
    assert sorted(p.name for p in tmp_path.iterdir()) == ["churn.mp4", "cropped.gif", "joined.gif"]
