"""bench's pure parts, fast: SSIM parsing, the recipe commands, the table and JSON writer, the corpus plan."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bench import __main__ as bench_main
from bench import corpus, cost, memory, quality, recipe, redis_memory, report, suite, system
from bench.stack import Sent
from jobs.probe import MediaInfo, probe
from jobs.recipe import GifOptions, build_convert_args
from jobs.runner import run
from tests import media
from tests.fakes.telegram_api import FILE_DOWNLOAD, Call, FileRecord

SSIM_STDERR = """\
[Parsed_ssim_10 @ 0x55d0c8] SSIM Y:0.901234 (10.05) U:0.975000 (16.02) V:0.970000 (15.23) All:0.935123 (11.88)
"""
WINDOW = quality.Window(start=0.0, end=5.0, fps=12.0, width=480, height=270)


def test_parse_ssim_reads_every_plane_of_the_summary_line() -> None:
    """The summary line gives Y, U, V and All as floats."""
    noise = "frame=  60 fps=0.0 q=-0.0 size=N/A\n"
    assert quality.parse_ssim(noise + SSIM_STDERR) == {"Y": 0.901234, "U": 0.975, "V": 0.97, "All": 0.935123}


def test_parse_ssim_takes_the_last_summary_and_refuses_none() -> None:
    """With two summaries the last wins; without one, SsimMissing."""
    earlier = SSIM_STDERR.replace("0.935123", "0.5")
    assert quality.parse_ssim(earlier + SSIM_STDERR)["All"] == 0.935123
    with pytest.raises(quality.SsimMissing):
        quality.parse_ssim("Error opening input file\n")


def test_reference_is_the_source_at_the_gifs_fps_trim_and_size() -> None:
    """The SSIM reference samples, trims and scales like the product; the GIF is resampled by time."""
    chain = quality.reference_chain(WINDOW)
    assert chain == "fps=fps=12,trim=start=0:end=5,setpts=PTS-STARTPTS,scale=480:270:flags=lanczos"
    graph = quality.ssim_argv(Path("a.gif"), Path("b.mp4"), WINDOW)
    text = graph[graph.index("-filter_complex") + 1]
    assert "setpts=N" in text and "[0:v]fps=fps=12:round=near," in text, "the GIF is resampled by time"
    assert "out_color_matrix=bt709" in text


def test_ssim_of_a_real_gif_against_its_source(tmp_path: Path) -> None:
    """A GIF made by the product scores high SSIM against its own source (real ffmpeg, tiny clip)."""
    src = media.make_clip(tmp_path, seconds=1.0, size=(160, 90))
    options, limits = recipe.product_options()
    info = probe(src, limits)
    window = recipe.window_for(info, options)
    gif = tmp_path / "out.gif"
    run(build_convert_args(src, gif, info, options, limits), timeout=60)
    assert 0.8 < quality.ssim(gif, src, window) <= 1.0


def test_window_never_upscales_and_never_exceeds_the_source_fps() -> None:
    """A small 10 fps source gives a GIF at its own size and 10 fps, cut at max_seconds."""
    info = MediaInfo(320, 240, 60.0, 10.0, "avi", "mpeg4", False)
    window = recipe.window_for(info, GifOptions())
    assert (window.width, window.height, window.fps, window.end) == (320, 240, 10.0, 30.0)


def test_twopass_writes_a_palette_then_uses_it_with_the_default_dither(tmp_path: Path) -> None:
    """Pass one runs palettegen into the PNG; pass two reads it with paletteuse and no dither option."""
    first, second = recipe.twopass_commands(Path("in.mp4"), Path("out.gif"), WINDOW, tmp_path / "p.png")
    assert first[-1] == str(tmp_path / "p.png") and first[first.index("-vf") + 1].endswith(",palettegen")
    graph = second[second.index("-filter_complex") + 1]
    assert graph.endswith("paletteuse") and quality.reference_chain(WINDOW) in graph
    assert second[-1] == "out.gif"


def test_summarize_compares_totals_and_mean_ssim() -> None:
    """Speed and bytes are ratios of totals; SSIM is the mean per-clip difference."""

    def result(ours: tuple[float, int, float], theirs: tuple[float, int, float]) -> recipe.ClipResult:
        made = {"product": recipe.Made(ours[0], ours[0], ours[1], ours[2])}
        made["twopass"] = recipe.Made(theirs[0], theirs[0], theirs[1], theirs[2])
        clip = corpus.Clip("c", "photo", 640, 360, 1.0, False, Path("c.mp4"))
        return recipe.ClipResult(clip, WINDOW, 0.1, made)

    clips = [result((1, 80, 0.90), (3, 100, 0.91)), result((1, 10, 0.99), (1, 20, 0.97))]
    found = recipe.summarize(clips, "twopass")
    assert found["speed"] == pytest.approx(2.0)
    assert found["bytes"] == pytest.approx(0.75)
    assert found["ssim"] == pytest.approx(0.005)
    assert found["worst_bytes"] == pytest.approx(0.8) and found["lowest_ssim"] == pytest.approx(-0.01)
    assert found["ssim_clean"] is None
    assert recipe.summarize([], "gifski")["speed"] is None


@pytest.mark.parametrize(("values", "expected"), [([5.0], 5.0), ([1.0, 2.0], 2.0), (list(range(1, 101)), 99)])
def test_percentile_is_nearest_rank(values: list[float], expected: float) -> None:
    """p99 of 1..100 is 99; of one value, that value."""
    assert system.percentile(values, 99) == expected


def test_targets_hold_miss_or_do_not_apply() -> None:
    """A figure holds, misses, has no target, or did not run."""
    speed = next(f for f in report.FIGURES if f.key == "recipe_speed_vs_twopass")
    idle = next(f for f in report.FIGURES if f.key == "worker_idle_rss_mb")
    assert report.holds(speed, 1.5) is True and report.holds(speed, 1.49) is False
    assert report.holds(idle, 80.0) is None and report.holds(speed, None) is None
    slow = {"recipe_speed_vs_twopass": 1.2, "cache_repeat_s": 0.01}
    assert report.missed(slow) == ["recipe_speed_vs_twopass"]


def test_table_shows_every_figure_with_its_verdict() -> None:
    """Every figure key is a row; a miss says MISSED, a figure not run says so."""
    table = report.figures_table({"recipe_speed_vs_twopass": 1.2, "recipe_ssim_minus_twopass": 0.0123})
    for figure in report.FIGURES:
        assert f"| {figure.key} " in table
    assert "MISSED" in table and "not run" in table and "+0.0123" in table
    widths = {len(line) for line in table.splitlines()}
    assert len(widths) == 1, "columns line up"


def test_json_has_every_figure_under_its_own_key(tmp_path: Path) -> None:
    """The JSON file carries each figure at the top level, plus targets, machine and details."""
    values = {f.key: 1.0 for f in report.FIGURES}
    path = tmp_path / "out.json"
    report.write_json(path, report.document(values, {"cores": 2}, {"mode": "quick", "where": tmp_path}))
    doc = json.loads(path.read_text())
    assert {f.key for f in report.FIGURES} <= doc.keys()
    assert doc["targets"]["system_efficiency"] == {"op": ">=", "target": 0.9, "holds": True}
    assert doc["machine"] == {"cores": 2} and doc["details"]["where"] == str(tmp_path)
    assert not list(tmp_path.glob("*.tmp"))


def test_corpus_covers_the_content_kinds_asked_for() -> None:
    """Both corpora: at least 10 clips of every kind issue 15 names, with and without audio."""
    for quick in (True, False):
        specs = corpus.specs(quick=quick)
        kinds = {"camera", "gradient", "slideshow", "text", "animation", "generative", "portrait"}
        assert kinds | {"motion", "static", "film"} <= {s.kind for s in specs}
        assert len(specs) >= 10 and len({s.name for s in specs}) == len(specs)
        assert sum(s.kind == "film" for s in specs) == 2 and {True, False} == {s.audio for s in specs}
        assert any(s.size[1] > s.size[0] for s in specs), "a portrait phone shape"
        assert all(s.photos for s in specs if s.kind in {"camera", "slideshow", "film", "static"})
    assert corpus.specs(quick=False)[0].seconds > corpus.specs(quick=True)[0].seconds


def test_clip_file_name_changes_with_its_recipe() -> None:
    """A clip is reused only if nothing that shapes it changed, its photos included."""
    spec = corpus.small()
    assert corpus.digest(spec) == corpus.digest(corpus.small())
    assert corpus.digest(spec) != corpus.digest(corpus.longest_portrait(15.0))
    assert corpus.digest(spec, [Path("a.jpg")]) != corpus.digest(spec, [Path("still.png")])


def test_encode_args_map_audio_from_the_right_input() -> None:
    """With two photos as inputs 0 and 1, the beep is input 2; without photos, input 0."""
    [film] = [s for s in corpus.specs(quick=True) if s.name == "film-letterbox"]
    args = corpus.encode_args(film, [Path("a.jpg"), Path("b.jpg")])
    assert args[args.index("-map", args.index("-map") + 1) + 1] == "2:a"
    [text] = [s for s in corpus.specs(quick=True) if s.kind == "text"]
    assert "1:a" not in corpus.encode_args(text, []) and "-loop" not in corpus.encode_args(text, [])


def test_clean_picture_is_the_clip_without_its_grain_or_audio() -> None:
    """The clean picture has no noise filter and no audio; the clip as sent has both."""
    spec = corpus.small()
    sent = corpus.encode_args(spec, [Path("a.jpg")])
    clean = corpus.encode_args(spec, [Path("a.jpg")], grain=False)
    graph = clean[clean.index("-filter_complex") + 1]
    assert "noise=" in sent[sent.index("-filter_complex") + 1] and "noise=" not in graph
    assert "1:a" in sent and "1:a" not in clean and corpus.scenes.GRAIN not in graph


def test_photos_fall_back_to_a_generated_still(tmp_path: Path) -> None:
    """Without the photo package every photo a clip names becomes the stand-in still."""
    [film] = [s for s in corpus.specs(quick=True) if s.name == "film-letterbox"]
    (tmp_path / "still.png").write_bytes(b"made earlier")  # make_still reuses it: no render here
    assert corpus.photo_paths(film, tmp_path, tmp_path / "no-photos") == [tmp_path / "still.png"] * 2
    assert corpus.photo_paths(corpus.specs(quick=True)[2], tmp_path, None) == [], "gradients use none"


def test_tree_rss_counts_children() -> None:
    """A child process is part of our tree and adds to its RSS."""
    alone = memory.tree_rss_bytes(os.getpid())
    with subprocess.Popen(["sleep", "5"]) as child:
        try:
            assert child.pid in memory.tree(os.getpid())
            assert memory.tree_rss_bytes(os.getpid()) > alone
        finally:
            child.kill()


def test_plan_quick_is_smaller_and_takes_overrides() -> None:
    """--quick repeats less and sends fewer videos; command-line overrides win, None does not."""
    quick, full = suite.Plan.make(True), suite.Plan.make(False)
    assert quick.repeat < full.repeat and 20 <= quick.system_videos < full.system_videos
    assert suite.Plan.make(True, repeat=5, gifski=None).repeat == 5
    assert suite.Plan.make(True, gifski=None).gifski is True


def test_redis_families_and_the_30_day_copies() -> None:
    """Ids become *; a family holds min(TTL, 30 d) days of a day's keys (x24 for hour hashes, the
    users index by USER_DATA_DAYS, 1 without a TTL or under a day), and day 30 adds them at k."""
    assert redis_memory.family_of("gifbot:cache:AgAD01:w480f12s15x1r0a") == "gifbot:cache:*:*"
    assert redis_memory.family_of("gifbot:user:5:jobs") == "gifbot:user:*:jobs"
    copies = redis_memory.copies
    assert copies("gifbot:jobrec:*", 30 * 86400 - 5, 90) == 30
    assert copies("gifbot:sent:*", 7 * 86400 - 300, 90) == 7
    assert copies("gifbot:hour:*", 8 * 86400 - 5, 90) == 8 * 24
    assert copies("gifbot:users", None, 90) == 30 and copies("gifbot:users", None, 10) == 10
    assert copies("rq:job:*", 86400 - 300, 90) == copies("gifbot:depth", None, 90) == 1
    found = redis_memory.RedisMemory(
        users=10,
        videos=50,
        used_before=1000,
        used_first=3000,
        used_after=7000,
        overhead=1.5,
        families=[redis_memory.Family("gifbot:jobrec:*", 50, 100, 30 * 86400, 30.0)],
    )
    assert found.bytes_per_video == 100 and found.bytes_per_user == 100
    assert found.day30 == 7000 + 1.5 * 100 * 29


def test_clip_table_shows_bytes_and_clean_ssim_against_gifski() -> None:
    """Each clip's row gives the product's bytes over gifski's and both clean-picture SSIMs."""
    made = {"wall_s": 1.0, "cpu_s": 1.0, "ssim": 0.95}
    row = {"clip": "camera-pan", "source": "1280x720 4s", "gif": "480x270 12fps 4s"}
    row |= {
        "product": {**made, "bytes": 800, "ssim_clean": 0.96},
        "gifski": {**made, "bytes": 1000, "ssim_clean": 0.97},
    }
    table = bench_main.clips_table([row])
    assert "| 0.80 " in table and "0.9600/0.9700" in table


def test_every_clip_the_bench_sends_fits_the_bots_input_limit() -> None:
    """A long clip's bitrate cap keeps it under MAX_INPUT_MB, so the bot converts it, not refuses it."""
    for seconds in (4.0, 15.0, 30.0, 60.0):
        args = corpus.bitrate_cap(seconds)
        kbps = int(args[1].rstrip("kM")) * (1000 if args[1].endswith("M") else 1)
        assert (kbps + corpus.AUDIO_KBPS) * seconds / 8 / 1000 < 20, seconds


def test_overhead_steps_add_up_to_served_to_gif_less_ffmpeg() -> None:
    """Each job's steps (bot, queue, download, probe_and_claim, upload) sum to its fixed overhead."""
    record = FileRecord("f1", "u1", 100, "videos/f1.mp4")
    sent = Sent(chat=7, message_id=3, update_id=9, pushed_at=0.0, record=record)

    def call(method: str, started: float, at: float, **params: str) -> Call:
        return Call(method, params, {}, {}, 200, at, started=started)

    calls = [
        call("sendMessage", 10.010, 10.020, chat_id="7"),
        call("getFile", 10.100, 10.101, file_id="f1"),
        call(FILE_DOWNLOAD, 0.0, 10.120, file_path="videos/f1.mp4"),
        call("sendAnimation", 11.400, 11.430, chat_id="7"),
    ]

    class Live:
        def served_at(self, _sent: Sent) -> float:
            return 10.0

        def calls_after(self, since: float, method: str, chat_id: int | None = None) -> list[Call]:
            return [c for c in calls if c.method == method and (c.started or c.at) >= since]

    steps = cost.steps_of(Live(), sent, calls[-1], ffmpeg_s=1.0)  # type: ignore[arg-type]
    assert list(steps) == list(cost.STEPS)
    assert steps == {"bot": 20.0, "queue": 80.0, "download": 20.0, "probe_and_claim": 280.0, "upload": 30.0}
    assert sum(steps.values()) == pytest.approx((11.430 - 10.0 - 1.0) * 1000)


def test_ffmpeg_runs_takes_each_jobs_latest_line_across_worker_logs(tmp_path: Path) -> None:
    """A reused workdir's older run (same job id, other worker's log) never stands in for this run's."""
    line = "ts=2026-12-01T{}Z level=info proc=worker logger=jobs.convert msg="
    line += '"job=gif_1_2 converted 9 B -> 8 B in {}s (ffmpeg {}s, 0.5s CPU)"\n'
    (tmp_path / "worker-0.log").write_text(line.format("17:00:00.000", 1.2, 1.0))
    (tmp_path / "worker-1.log").write_text(line.format("16:00:00.000", 3.2, 3.0))
    assert cost.ffmpeg_runs(tmp_path) == {"gif_1_2": (1.0, 0.5)}
    (tmp_path / "worker-1.log").write_text(line.format("18:00:00.000", 2.2, 2.0))
    assert cost.ffmpeg_runs(tmp_path) == {"gif_1_2": (2.0, 0.5)}
