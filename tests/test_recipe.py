"""jobs.recipe: the pure argv builder (hardening flags, graph order, sizes, windows, rates)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from jobs import palettes
from jobs.probe import MediaInfo, probe
from jobs.recipe import (
    MAX_COLORS,
    PALETTE_STEP,
    PALETTE_STEP_MIN_FRAMES,
    PER_FRAME_COLORS,
    GifOptions,
    Limits,
    Palette,
    build_convert_args,
    file_url,
    input_hardening,
    output_fps,
    source_window,
    target_size,
)
from jobs.runner import FFmpegFailed, run
from tests import media
from tests.gifcheck import gif_info

LANDSCAPE = MediaInfo(1920, 1080, 60.0, 30.0, "mov,mp4,m4a,3gp,3g2,mj2", "h264", True)


def graph(argv: list[str]) -> str:
    """Return the -filter_complex argument of an ffmpeg argv."""
    return argv[argv.index("-filter_complex") + 1]


def flags(argv: list[str]) -> dict[str, str]:
    """Map each -option in an argv to the word after it."""
    return {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("-")}


def argv_for(tmp_path: Path, options: GifOptions | None = None, limits: Limits | None = None) -> list[str]:
    """Build the landscape clip's argv from in.mp4 to out.gif in `tmp_path` (defaults unless given)."""
    return build_convert_args(
        tmp_path / "in.mp4", tmp_path / "out.gif", LANDSCAPE, options or GifOptions(), limits or Limits()
    )


def test_argv_carries_hardening_flags_and_file_url(tmp_path: Path) -> None:
    """The ffmpeg argv whitelists demuxers and protocols, caps pixels and reads a file: URL."""
    argv = build_convert_args(tmp_path / "in.mp4", tmp_path / "out.gif", LANDSCAPE, GifOptions(), Limits())
    flag = flags(argv)
    assert Path(argv[0]).name == "ffmpeg" and "-nostdin" in argv and "-y" in argv
    assert flag["-format_whitelist"] == "mov,matroska,avi,mpegts,mpeg,flv,asf,ogg"
    assert flag["-protocol_whitelist"] == "file"
    assert int(flag["-max_pixels"]) >= 3840 * 2160
    assert flag["-i"] == f"file:{tmp_path / 'in.mp4'}"
    assert argv.index("-format_whitelist") < argv.index("-i")
    assert float(flag["-t"]) == 31.0  # start + max_seconds + 1 s margin
    assert flag["-loop"] == "0" and argv[-1] == f"file:{tmp_path / 'out.gif'}"


def test_every_input_option_comes_before_the_input(tmp_path: Path) -> None:
    """Whitelists, pixel cap and -t sit before -i, where ffmpeg applies them to that input."""
    argv = argv_for(tmp_path)
    for option in ("-format_whitelist", "-protocol_whitelist", "-max_pixels", "-t"):
        assert argv.index(option) < argv.index("-i"), option


def test_argv_is_quiet_and_reports_progress_on_stdout(tmp_path: Path) -> None:
    """ffmpeg logs errors only, shows no banner or stats and writes -progress to stdout."""
    flag = flags(argv_for(tmp_path))
    assert flag["-loglevel"] == "error" and flag["-progress"] == "pipe:1" and flag["-f"] == "gif"
    assert {"-hide_banner", "-nostats"} <= set(flag)


def test_pixel_cap_follows_limits_with_stride_headroom(tmp_path: Path) -> None:
    """The decoders' -max_pixels is Limits.max_pixels plus 1/8 for stride-aligned widths."""
    assert flags(argv_for(tmp_path, limits=Limits(max_pixels=1000)))["-max_pixels"] == "1125"


def test_input_hardening_leaves_the_cap_out_only_when_asked() -> None:
    """Uncapped hardening (ffprobe's header read) keeps whitelists and read bounds but drops max_pixels."""
    whitelists = {
        "format_whitelist": "mov,matroska,avi,mpegts,mpeg,flv,asf,ogg",
        "protocol_whitelist": "file",
        "probesize": "5000000",
        "analyzeduration": "5000000",
    }
    assert input_hardening(Limits(max_pixels=800)) == {**whitelists, "max_pixels": "900"}
    assert input_hardening(Limits(max_pixels=800), capped=False) == whitelists


@pytest.mark.parametrize("name", ["http:evil.mp4", "-y", "concat:a|b", "pipe:0"])
def test_names_that_look_like_protocols_or_options_stay_files(tmp_path: Path, name: str) -> None:
    """Any file name becomes an absolute file: URL, so ffmpeg never reads it as a protocol or flag."""
    assert file_url(tmp_path / name) == f"file:{tmp_path}/{name}"


def test_relative_paths_become_absolute_file_urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A relative path is made absolute first, so the URL does not depend on ffmpeg's cwd."""
    monkeypatch.chdir(tmp_path)
    assert file_url(Path("in.mp4")) == f"file:{tmp_path}/in.mp4"


def test_filter_graph_runs_fps_first_then_trim_then_palette(tmp_path: Path) -> None:
    """fps comes before trim; speed sits before the lanczos scale, reverse after it (GIF-sized frames)."""
    options = GifOptions(start=1.0, end=3.0, speed=2.0, reverse=True)
    chain = graph(build_convert_args(tmp_path / "a.mp4", tmp_path / "b.gif", LANDSCAPE, options, Limits()))
    steps = ["fps=", "trim=", "setpts=PTS-STARTPTS", "setpts=PTS/2", "scale=480:270", "hqdn3d", "setsar=1"]
    steps += ["reverse"]
    steps += ["split", "palettegen", "paletteuse"]
    positions = [chain.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "trim=end=3:start=1" in chain and "flags=lanczos" in chain and "dither=none" in chain


def test_the_palette_counts_rounded_colours_and_the_frames_mapped_keep_theirs(tmp_path: Path) -> None:
    """lutrgb rounds every channel of the frames palettegen counts, after the split (and the
    framestep); paletteuse maps the frames the split gives, unrounded."""
    chain = graph(argv_for(tmp_path))
    assert chain.count("lutrgb=") == 1 and chain.count("floor(val/4)*4+2") == 3
    stats, mapped = re.search(r"split=2\[(s\d+)\]\[(s\d+)\]", chain).groups()
    counted = rf"\[{stats}\]framestep=step=2\[(s\d+)\];\[\1\]lutrgb=[^;]*\[(s\d+)\];\[\2\]palettegen"
    assert re.search(counted, chain) and re.search(rf"\[{mapped}\]\[s\d+\]paletteuse", chain)
    assert chain.index("scale=") < chain.index("split")


def test_grain_is_damped_over_time_at_the_gifs_size_before_rgb(tmp_path: Path) -> None:
    """hqdn3d runs on the scaled YUV frames, temporal only, before they become RGB for the palette."""
    chain = graph(argv_for(tmp_path))
    assert chain.index("scale=480:270") < chain.index("hqdn3d") < chain.index("format=bgra")
    assert "hqdn3d=chroma_spatial=0:chroma_tmp=8:luma_spatial=0:luma_tmp=8" in chain


def test_near_copies_of_a_frame_become_exact_copies_after_the_denoise(tmp_path: Path) -> None:
    """mpdecimate then an fps filter at the GIF's rate sit between hqdn3d and the RGB palette stage."""
    chain = graph(argv_for(tmp_path))
    thin = chain.index("mpdecimate")
    assert chain.index("hqdn3d") < thin < chain.index("fps=fps=12[", thin) < chain.index("bgra")


def test_one_palette_by_default_and_one_per_frame_on_request(tmp_path: Path) -> None:
    """The default graph has one full palette with rectangle diffs; Palette(True) one per frame."""
    one = graph(argv_for(tmp_path))
    assert f"palettegen=max_colors={MAX_COLORS}[" in one and MAX_COLORS < 256
    assert "diff_mode=rectangle" in one and "new=1" not in one
    # 30 s at 12 fps: the palette counts every 2nd frame; a 1 s GIF (12 frames) counts them all
    assert re.search(rf"framestep=step={PALETTE_STEP}\[(s\d+)\];\[\1\]lutrgb=[^;]*;\[s\d+\]palettegen", one)
    short = graph(argv_for(tmp_path, GifOptions(max_seconds=1)))
    assert "framestep" not in short and PALETTE_STEP_MIN_FRAMES > 12
    per_frame = build_convert_args(
        tmp_path / "in.mp4", tmp_path / "out.gif", LANDSCAPE, GifOptions(), Limits(), palette=Palette(True)
    )
    chain = graph(per_frame)
    assert f"palettegen=max_colors={PER_FRAME_COLORS}:stats_mode=single" in chain and PER_FRAME_COLORS < 256
    assert "new=1" in chain and "diff_mode" not in chain
    assert "psnr" not in chain and per_frame[-1] == f"file:{tmp_path / 'out.gif'}"


def test_a_measured_conversion_keeps_its_frames_and_the_measuring_runs_sample_them(tmp_path: Path) -> None:
    """With fit files, every frame before the palette goes to a raw BGRA file (the kept frames);
    the measuring run reads every 6th of the 48 (8 in all, never the last two) through a FIFO,
    scales them to 1/4 the size, maps them with one palette and with a palette per frame and
    writes the two psnr stats files. The GIF is written twice: with transparency, as always, and
    without."""
    files = palettes.fit_files(tmp_path / "out.gif")
    argv = build_convert_args(
        tmp_path / "in.mp4",
        tmp_path / "out.gif",
        LANDSCAPE,
        GifOptions(max_seconds=4),
        Limits(),
        palette=Palette(fit=files),
    )
    chain = graph(argv)
    assert chain.count("palettegen") == 1 and "psnr" not in chain and "framestep=step=6" not in chain
    kept = argv[argv.index(f"file:{files.kept}") - 6 :]
    assert kept[:6] == ["-f", "rawvideo", "-fps_mode", "passthrough", "-pix_fmt", "bgra"]
    assert f"file:{tmp_path / 'out.gif'}" in argv and f"file:{files.kept}" not in argv_for(tmp_path)
    # the GIF is also encoded without transparency, from the same paletted frames (jobs.gifblocks)
    gif, opaque = argv.index(f"file:{tmp_path / 'out.gif'}"), argv.index(f"file:{files.opaque}")
    assert "-gifflags" not in argv[:gif] and argv[gif + 1 : opaque].count("-gifflags") == 1
    assert argv[argv.index("-gifflags") + 1] == "-transdiff"
    assert palettes.samples(48) == [0, 6, 12, 18, 24, 30, 36, 42]
    assert palettes.samples(47.9) == [0, 6, 12, 18, 24, 30, 36, 42] and palettes.samples(2) == [0]
    measuring = palettes.measure_args(files, 480, 270)
    assert measuring[measuring.index("-video_size") + 1] == "480x270"
    assert measuring[measuring.index("-i") + 1] == f"file:{files.feed}"  # a FIFO (jobs.measure)
    chain = graph(measuring)
    assert chain.startswith("[0]trim=start_frame=1[")  # the warm-up frame (jobs.measure)
    assert "scale=120:67:flags=area" in chain and chain.count("palettegen") == 2
    assert "palettegen=stats_mode=full" in chain and "palettegen=stats_mode=single" in chain
    assert all(f"psnr=stats_file={stats}" in chain for stats in files.stats)
    assert measuring[-3:] == ["-f", "null", "-"]


@pytest.mark.parametrize("speed", [2.0, 0.5])
@pytest.mark.parametrize("per_frame", [False, True], ids=["one-palette", "per-frame"])
def test_a_sped_up_gifs_last_frame_is_shown_as_long_as_the_others(
    tmp_path: Path, speed: float, per_frame: bool
) -> None:
    """After a speed change every frame, the last one too, is shown one frame's time (ffmpeg 9 held
    a 2x per-frame GIF's last frame twice as long: its duration was still the source's)."""
    src = media.make_moving_marker(tmp_path)
    info = probe(src, Limits())
    dst = tmp_path / "out.gif"
    palette = Palette(per_frame=per_frame)
    run(build_convert_args(src, dst, info, GifOptions(speed=speed), Limits(), palette=palette), 60)
    argv = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=duration"]
    shown = subprocess.run([*argv, "-of", "csv=p=0", str(dst)], capture_output=True, text=True, check=True)
    delays = [int(d) for d in shown.stdout.split()]  # centiseconds, the GIF's own delays
    frame = 100 / output_fps(info, GifOptions(speed=speed))
    assert len(delays) >= 10 and all(abs(d - frame) < 1 for d in delays), delays


@pytest.mark.parametrize("options", [GifOptions(speed=2.0), GifOptions(speed=0.5), GifOptions(start=59.95)])
def test_no_thinning_after_a_speed_change_or_in_a_one_frame_window(
    tmp_path: Path, options: GifOptions
) -> None:
    """Speed changes (frames off a 1/rate grid) and windows shorter than a frame keep every frame."""
    assert "mpdecimate" not in graph(argv_for(tmp_path, options))


def test_a_still_picture_with_grain_keeps_its_frames_and_time_as_tiny_copies(tmp_path: Path) -> None:
    """Real ffmpeg: a grainy still clip gives every frame at its time, all but the first ~empty."""
    src, dst = tmp_path / "grain.mp4", tmp_path / "out.gif"
    media.ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=320x240:r=12:d=2,noise=alls=3:allf=t", str(src))
    info = MediaInfo(320, 240, 2.0, 12.0, "mov,mp4,m4a,3gp,3g2,mj2", "h264", False)
    run(build_convert_args(src, dst, info, GifOptions(), Limits()), timeout=30)
    frames = gif_info(dst.read_bytes())
    assert frames.frames == 24 and abs(frames.duration - 2.0) < 0.1
    assert dst.stat().st_size < 5000  # 2.8 kB; without the copies 9.9 kB: each frame a rectangle of grain


def test_plain_options_add_no_speed_or_reverse_filter(tmp_path: Path) -> None:
    """At speed 1 without reverse the graph has one setpts and no reverse."""
    chain = graph(argv_for(tmp_path))
    assert chain.count("setpts") == 1 and "reverse" not in chain


def test_output_fps_never_exceeds_source_fps(tmp_path: Path) -> None:
    """A 10 fps source is sampled at 10 fps even though 12 were asked for."""
    slow = MediaInfo(640, 360, 5.0, 10.0, "avi", "mpeg4", False)
    chain = graph(build_convert_args(tmp_path / "a.avi", tmp_path / "b.gif", slow, GifOptions(), Limits()))
    assert chain.startswith("[0:V:0]fps=fps=10[")


@pytest.mark.parametrize(
    ("source_fps", "options", "sampled", "played"),
    [
        (30.0, GifOptions(), "12", 12.0),
        (10.0, GifOptions(), "10", 10.0),  # never above the source
        (0.0, GifOptions(), "12", 12.0),  # unknown source rate: take what was asked
        (30.0, GifOptions(speed=2.0), "6", 12.0),  # twice as fast: a GIF second shows 2 source seconds
        (30.0, GifOptions(speed=0.5), "24", 12.0),  # slow motion needs more source frames a second...
        (20.0, GifOptions(speed=0.5), "20", 10.0),  # ...but never more than the source has
        (29.97, GifOptions(fps=30), "29.97", 29.97),
    ],
)
def test_sample_rate_is_fps_over_speed_capped_at_the_source(
    tmp_path: Path, source_fps: float, options: GifOptions, sampled: str, played: float
) -> None:
    """The fps filter samples fps/speed source frames a second, capped at the source's own rate."""
    info = MediaInfo(640, 360, 10.0, source_fps, "avi", "mpeg4", False)
    chain = graph(build_convert_args(tmp_path / "a.avi", tmp_path / "b.gif", info, options, Limits()))
    assert chain.startswith(f"[0:V:0]fps=fps={sampled}[")
    assert output_fps(info, options) == pytest.approx(played)


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


@pytest.mark.parametrize("src", [(1, 1), (3, 3), (2000, 1), (1, 2000)])
def test_target_size_never_goes_below_two_pixels(src: tuple[int, int]) -> None:
    """A degenerate 1-pixel side still gives at least 2x2, the smallest even frame."""
    width, height = target_size(*src, 480)
    assert width >= 2 and height >= 2 and width % 2 == height % 2 == 0


@pytest.mark.parametrize("src", [(w, h) for w in (97, 640, 1081, 3840) for h in (55, 360, 1919, 2160)])
def test_target_size_stays_within_width_budget_and_source(src: tuple[int, int]) -> None:
    """Across shapes: even sides, no upscaling, no wider than asked, about the 16:9 budget at most."""
    width, height = target_size(*src, 480)
    assert width % 2 == height % 2 == 0
    assert width <= min(480, src[0]) and height <= src[1]
    assert width * height <= 480 * 270 * 1.01


@pytest.mark.parametrize(
    ("duration", "options", "window"),
    [
        (60.0, GifOptions(), (0.0, 30.0)),  # capped by max_seconds
        (4.0, GifOptions(), (0.0, 4.0)),  # a short video ends first
        (20.0, GifOptions(start=10.0), (10.0, 20.0)),
        (60.0, GifOptions(end=5.0), (0.0, 5.0)),  # the asked end
        (60.0, GifOptions(end=100.0), (0.0, 30.0)),  # an end past max_seconds
        (20.0, GifOptions(end=30.0, max_seconds=100.0), (0.0, 20.0)),  # an end past the video
        (60.0, GifOptions(start=3.0, end=10.0, max_seconds=2.0), (3.0, 5.0)),
    ],
)
def test_window_is_capped_by_max_seconds_end_and_duration(
    duration: float, options: GifOptions, window: tuple[float, float]
) -> None:
    """The source window ends at the earliest of end, start+max_seconds and the video's end."""
    assert source_window(MediaInfo(640, 360, duration, 25.0, "avi", "mpeg4", False), options) == window


def test_input_is_read_one_margin_second_past_the_window(tmp_path: Path) -> None:
    """-t covers the window's end plus INPUT_MARGIN_SECONDS, so the last frame is complete."""
    assert flags(argv_for(tmp_path, GifOptions(start=2.0, end=4.5)))["-t"] == "5.5"


def test_options_out_of_range_are_refused() -> None:
    """GifOptions rejects a speed outside 0.5..2.0 and an end before the start."""
    with pytest.raises(ValueError):
        GifOptions(speed=3.0)
    with pytest.raises(ValueError):
        GifOptions(start=2.0, end=1.0)


@pytest.mark.parametrize(
    "fields", [{"width": 1}, {"fps": 0}, {"max_seconds": 0.0}, {"start": -1.0}, {"speed": 0.4}, {"end": 0.0}]
)
def test_each_option_bound_is_enforced(fields: dict[str, float]) -> None:
    """Too narrow, no frames, no seconds, a negative start, too slow or an empty window: ValueError."""
    with pytest.raises(ValueError):
        GifOptions(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", media.DISGUISES, ids=lambda f: f.__name__)
def test_ffmpeg_itself_refuses_a_disguise_even_without_probe(tmp_path: Path, make: Callable) -> None:
    """Defence in depth: the convert argv alone refuses a playlist/script/manifest; nothing is read."""
    src, dst = make(tmp_path, media.make_secret(tmp_path)), tmp_path / "out.gif"
    fake = MediaInfo(320, 240, 10.0, 25.0, "mov,mp4,m4a,3gp,3g2,mj2", "h264", False)
    with pytest.raises(FFmpegFailed):
        run(build_convert_args(src, dst, fake, GifOptions(), Limits()), timeout=20)
    outputs = [p for p in tmp_path.iterdir() if p.name != "secret.txt"]
    assert all(media.SECRET not in p.read_bytes() for p in outputs)


def test_ffmpeg_decoders_cap_pixels_when_the_header_lies(tmp_path: Path) -> None:
    """A 5000x5000 frame behind a 320x240 header fails in ffmpeg's decoder, not in our memory."""
    liar = media.make_lying_header(tmp_path)
    fake = MediaInfo(320, 240, 1.0, 25.0, "matroska,webm", "mjpeg", False)
    with pytest.raises(FFmpegFailed):
        run(build_convert_args(liar, tmp_path / "out.gif", fake, GifOptions(), Limits()), timeout=20)
