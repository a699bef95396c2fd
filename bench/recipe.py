"""The product's one ffmpeg command against classic two-pass palettegen/paletteuse (and gifski).

Every contender makes the same clip at the same fps, size and trim window. Commands run one at a
time, interleaved, `repeat` times each (gifski once); the fastest run counts (the least disturbed by
whatever else the machine is doing). CPU seconds are kept too: they are steadier than wall time
on a shared box. Every ffmpeg run is the one the workers run (jobs.binaries), the baselines' too.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import quality
from bench.corpus import Clip
from core.settings import Settings
from jobs import convert
from jobs.fit import convert_once
from jobs.probe import MediaInfo, probe
from jobs.recipe import INPUT_MARGIN_SECONDS, GifOptions, Limits, target_size
from jobs.runner import FFMPEG

COMMAND_TIMEOUT_S = 900
NPM_TIMEOUT_S = 180
GIFSKI_PACKAGE = "gifski"
GIFSKI_CACHE = Path(tempfile.gettempdir()) / "gifbot-bench-gifski"
QUIET = ["-nostdin", "-y", "-hide_banner", "-nostats", "-loglevel", "error"]


@dataclass(frozen=True)
class Timing:
    """One command set's best wall time and its CPU time (user + system) in that run."""

    wall: float
    cpu: float


@dataclass
class Made:
    """One contender's result on one clip."""

    wall: float
    cpu: float
    size_bytes: int
    ssim: float  # against the source as sent
    ssim_clean: float | None = None  # against the clean picture, where the corpus added grain


@dataclass
class ClipResult:
    """Every contender on one clip, plus the product's probe time (not in its wall)."""

    clip: Clip
    window: quality.Window
    probe_s: float
    made: dict[str, Made] = field(default_factory=dict)


def product_options() -> tuple[GifOptions, Limits]:
    """The options and limits a worker uses with default settings."""
    settings = Settings()
    options = GifOptions(width=settings.gif_width, fps=settings.gif_fps, max_seconds=settings.max_seconds)
    return options, convert.limits_for(settings)


def window_for(info: MediaInfo, options: GifOptions) -> quality.Window:
    """The product's trim window, sample rate and output size for this input (no speed change)."""
    end = min(info.duration, options.start + options.max_seconds)
    fps = min(options.fps, info.fps) if info.fps > 0 else options.fps
    width, height = target_size(info.width, info.height, options.width)
    return quality.Window(options.start, end, fps, width, height)


def twopass_commands(src: Path, dst: Path, window: quality.Window, palette: Path) -> list[list[str]]:
    """Classic two-pass: palettegen writes a PNG, then paletteuse (default sierra2_4a) reads it."""
    chain = quality.reference_chain(window)
    limit = ["-t", f"{window.end + INPUT_MARGIN_SECONDS:g}", "-i", str(src)]
    first = [FFMPEG, *QUIET, *limit, "-vf", f"{chain},palettegen", str(palette)]
    graph = f"[0:v]{chain}[x];[x][1:v]paletteuse"
    second = [FFMPEG, *QUIET, *limit, "-i", str(palette), "-filter_complex", graph]
    return [first, [*second, "-loop", "0", str(dst)]]


def gifski_commands(
    gifski: Path, src: Path, dst: Path, window: quality.Window, frames: Path
) -> list[list[str]]:
    """ffmpeg writes the scaled frames as PNGs, gifski encodes them (its default quality, 90)."""
    chain = quality.reference_chain(window)
    limit = ["-t", f"{window.end + INPUT_MARGIN_SECONDS:g}", "-i", str(src)]
    extract = [FFMPEG, *QUIET, *limit, "-vf", chain, str(frames / "f%05d.png")]
    encode = [str(gifski), "--quiet", "--fps", f"{window.fps:g}", "--width", str(window.width)]
    return [extract, [*encode, "-o", str(dst), Glob(str(frames / "f*.png"))]]


class Glob(str):
    """An argument that run_timed expands to the matching paths when the command runs."""


Step = list[str] | Callable[[], object]  # an argv, or a call that runs the product's own processes


def run_timed(commands: list[Step]) -> Timing:
    """Run commands one after another (expanding Glob arguments; a callable step is called, and
    the processes it runs count); return wall and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    for argv in commands:
        if callable(argv):
            argv()
            continue
        argv = [a for arg in argv for a in (_glob(arg) if isinstance(arg, Glob) else [arg])]
        subprocess.run(
            argv,
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=COMMAND_TIMEOUT_S,
        )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu)


def _glob(pattern: str) -> list[str]:
    path = Path(pattern)
    return sorted(str(p) for p in path.parent.glob(path.name))


def find_gifski(allow_install: bool = True) -> tuple[Path | None, str]:
    """The gifski binary from $GIFSKI, PATH, or the npm package (installed into a temp dir)."""
    for candidate in (os.environ.get("GIFSKI"), shutil.which("gifski")):
        if candidate and _works(Path(candidate)):
            return Path(candidate), "found on this machine"
    binary = GIFSKI_CACHE / "node_modules" / "gifski" / "bin" / "debian" / "gifski"
    if _works(binary):
        return binary, f"npm package in {GIFSKI_CACHE}"
    npm = shutil.which("npm")
    if not allow_install or npm is None:
        return None, "not installed (no npm)" if npm is None else "not installed"
    GIFSKI_CACHE.mkdir(parents=True, exist_ok=True)
    argv = [npm, "install", "--prefix", str(GIFSKI_CACHE), "--no-save", "--no-audit", "--no-fund"]
    try:
        subprocess.run([*argv, GIFSKI_PACKAGE], check=True, capture_output=True, timeout=NPM_TIMEOUT_S)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"npm install gifski failed ({type(exc).__name__})"
    if _works(binary):
        return binary, f"npm package in {GIFSKI_CACHE}"
    return None, "the npm package has no binary for this platform"


def _works(binary: Path) -> bool:
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


Contender = Callable[[Path], list[Step]]  # output GIF path -> the commands that make it
INFORMATIONAL = ("gifski",)  # timed once: reported, but no target rests on it


def measure_clip(
    clip: Clip, workdir: Path, repeat: int, gifski: Path | None, product: Contender | None = None
) -> ClipResult:
    """Make `clip` with every contender (interleaved, `repeat` times); keep each one's best run.

    `product` replaces the product's own command, to measure a candidate recipe.
    """
    options, limits = product_options()
    started = time.monotonic()
    info = probe(clip.path, limits)
    result = ClipResult(clip, window_for(info, options), time.monotonic() - started)
    folder = workdir / clip.name
    folder.mkdir(parents=True, exist_ok=True)
    frames = folder / "frames"
    window = result.window
    contenders: dict[str, Contender] = {
        "product": product
        or (lambda dst: [functools.partial(convert_once, clip.path, dst, info, options, limits)]),
        "twopass": lambda dst: twopass_commands(clip.path, dst, window, folder / "palette.png"),
    }
    if gifski is not None:
        contenders["gifski"] = lambda dst: gifski_commands(gifski, clip.path, dst, window, frames)
    for name, best in time_contenders(contenders, folder, repeat, frames).items():
        gif = folder / f"{name}.gif"
        ssim = quality.ssim(gif, clip.path, window)
        clean = quality.ssim(gif, clip.clean, window) if clip.clean else None
        result.made[name] = Made(best.wall, best.cpu, gif.stat().st_size, ssim, clean)
    return result


def time_contenders(
    contenders: dict[str, Contender], folder: Path, repeat: int, frames: Path
) -> dict[str, Timing]:
    """Run each contender's commands `repeat` times, round-robin; return each one's fastest run."""
    timings: dict[str, list[Timing]] = {name: [] for name in contenders}
    for round_ in range(repeat):
        for name, commands in contenders.items():
            if name in INFORMATIONAL and round_ > 0:
                continue
            shutil.rmtree(frames, ignore_errors=True)
            frames.mkdir()
            timings[name].append(run_timed(commands(folder / f"{name}.gif")))
    shutil.rmtree(frames, ignore_errors=True)
    return {name: min(runs, key=lambda t: t.wall) for name, runs in timings.items()}


def summarize(results: list[ClipResult], against: str) -> dict[str, float | None]:
    """Speed (their wall / ours), mean SSIM difference (ours - theirs), bytes (ours / theirs); the
    worst clip's bytes ratio and SSIM difference; the mean SSIM difference against clean pictures."""
    pairs = [(r.made["product"], r.made[against]) for r in results if against in r.made]
    if not pairs:
        keys = ("speed", "cpu", "ssim", "bytes", "worst_bytes", "lowest_ssim", "ssim_clean")
        return dict.fromkeys(keys)
    clean = [
        p.ssim_clean - t.ssim_clean for p, t in pairs if p.ssim_clean is not None and t.ssim_clean is not None
    ]
    return {
        "speed": sum(t.wall for _, t in pairs) / sum(p.wall for p, _ in pairs),
        "cpu": sum(t.cpu for _, t in pairs) / sum(p.cpu for p, _ in pairs),
        "ssim": statistics.fmean(p.ssim - t.ssim for p, t in pairs),
        "bytes": sum(p.size_bytes for p, _ in pairs) / sum(t.size_bytes for _, t in pairs),
        "worst_bytes": max(p.size_bytes / t.size_bytes for p, t in pairs),
        "lowest_ssim": min(p.ssim - t.ssim for p, t in pairs),
        "ssim_clean": statistics.fmean(clean) if clean else None,
    }
