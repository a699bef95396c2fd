"""One benchmark run: make the corpus, compare recipes, then drive the whole stack."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import corpus, cost, recipe, redis_memory, stack, system
from bench.corpus import Clip
from bench.recipe import ClipResult
from bench.stack import LiveStack
from core.settings import Settings
from jobs.runner import FFMPEG
from tests import media

PARTS = ("recipe", "system", "redis", "overhead")


@dataclass(frozen=True)
class Plan:
    """How much to run: --quick is the small corpus and fewer repeats (under 10 minutes on 2 cores)."""

    quick: bool
    repeat: int  # runs of each recipe command per clip (the fastest counts)
    system_videos: int
    latency_runs: int
    cache_runs: int
    burst_users: int = 100
    redis_users: int = 100  # the Redis memory run: this many users ...
    redis_videos_per_user: int = 5  # ... each sending this many videos
    workers: int = 2
    gifski: bool = True
    parts: tuple[str, ...] = PARTS

    @classmethod
    def make(cls, quick: bool, **overrides: Any) -> Plan:
        """The quick or the full plan, with overrides from the command line."""
        base = cls(quick, 2, 20, 5, 3, redis_users=40) if quick else cls(quick, 3, 40, 5, 5)
        return cls(**{**asdict(base), **{k: v for k, v in overrides.items() if v is not None}})


@dataclass
class Outcome:
    """What a run found: the headline figures and the details behind them."""

    figures: dict[str, float | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


class Log:
    """Progress lines on stderr, stamped with seconds since the start."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    """Cores, load and tool versions: the context every figure needs."""
    # the ffmpeg the workers run, which the baselines run too (jobs.binaries)
    version = subprocess.run([FFMPEG, "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    return {
        "cores": os.cpu_count(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "ffmpeg": version.removeprefix("ffmpeg version ").split(" ")[0],
        "python": platform.python_version(),
    }


def run(plan: Plan, workdir: Path, log: Log) -> Outcome:
    """Run every part of `plan` under `workdir`; return figures and details."""
    outcome = Outcome()
    if "redis" in plan.parts:
        run_redis(plan, workdir / "redis", log, outcome)
    if "overhead" in plan.parts and "system" not in plan.parts:  # else the system part measures it
        run_overhead(plan, workdir, log, outcome)
    if not {"recipe", "system"} & set(plan.parts):
        return outcome
    log(f"corpus ({'quick' if plan.quick else 'full'}) in {workdir / 'corpus'}")
    photos, how = corpus.find_photos()
    log(f"photos: {photos or 'a generated stand-in'} ({how})")
    clips = corpus.build(workdir / "corpus", plan.quick, photos)
    outcome.details["corpus"] = {"photos": how, "clips": [f"{c.name} ({c.kind}) {c.label}" for c in clips]}
    if "recipe" in plan.parts:
        run_recipe(plan, clips, workdir / "recipe", log, outcome)
    if "system" in plan.parts:
        small = corpus.make(corpus.small(), workdir / "corpus", photos)
        longest = corpus.make(corpus.longest_portrait(Settings().max_seconds), workdir / "corpus", photos)
        hd60 = corpus.make(corpus.hd60(Settings().max_seconds), workdir / "corpus", photos)
        run_system(plan, clips, small, (longest, hd60), workdir / "stack", log, outcome)
    return outcome


def run_redis(plan: Plan, workdir: Path, log: Log, outcome: Outcome) -> None:
    """Redis used_memory after users x videos through a fresh stack with its scheduler, and the
    30-day steady state derived from it (bench.redis_memory)."""
    workdir.mkdir(parents=True, exist_ok=True)
    clip = media.make_clip(workdir, seconds=1.5, size=(192, 108), fps=10).read_bytes()
    with stack.running(workdir, plan.workers, scheduler=True) as live:
        found = redis_memory.measure(live, clip, plan.redis_users, plan.redis_videos_per_user, log)
    figures, details = redis_memory.report(found)
    used, day30 = figures["redis_used_memory_mb"], figures["redis_30day_mb"]
    log(f"redis: used_memory {used:.2f} MB after the run, {day30:.2f} MB on day 30")
    outcome.figures.update(figures)
    outcome.details["redis"] = details


def run_overhead(plan: Plan, workdir: Path, log: Log, outcome: Outcome) -> None:
    """job_fixed_overhead_ms alone (~1 min): the small clip through a fresh stack, one job at a time."""
    (workdir / "corpus").mkdir(parents=True, exist_ok=True)
    small = corpus.make(corpus.small(), workdir / "corpus", corpus.find_photos()[0])
    with stack.running(workdir / "overhead", plan.workers) as live:
        system.warm_up(live, small)
        over = cost.fixed_overhead(live, cost.Meter(live), small, cost.OVERHEAD_RUNS)
    cost.log_overhead(over, log)
    outcome.figures["job_fixed_overhead_ms"] = over.median_ms
    outcome.details.setdefault("system", {})["cost"] = {
        "overhead_clip": small.label,
        "overhead_ms": [round(ms, 1) for ms in over.overhead_ms],
        "overhead_steps_ms": over.median_steps_ms,
    }


def run_recipe(plan: Plan, clips: list[Clip], workdir: Path, log: Log, outcome: Outcome) -> None:
    """Product vs two-pass (and gifski) on every clip; figures from their totals and means."""
    gifski, how = recipe.find_gifski(allow_install=plan.gifski) if plan.gifski else (None, "skipped")
    log(f"gifski: {gifski or 'unavailable'} ({how})")
    results: list[ClipResult] = []
    for clip in clips:
        result = recipe.measure_clip(clip, workdir, plan.repeat, gifski)
        results.append(result)
        log(
            f"recipe {clip.name}: "
            + ", ".join(
                f"{name} {m.wall:.2f}s {m.size_bytes / 1e6:.2f}MB ssim {m.ssim:.4f}"
                for name, m in result.made.items()
            )
        )
    versus = recipe.summarize(results, "twopass")
    outcome.figures.update(
        recipe_speed_vs_twopass=versus["speed"],
        recipe_ssim_minus_twopass=versus["ssim"],
        recipe_bytes_vs_twopass=versus["bytes"],
    )
    gif = recipe.summarize(results, "gifski")
    outcome.figures.update(
        recipe_speed_vs_gifski=gif["speed"],
        recipe_ssim_minus_gifski=gif["ssim"],
        recipe_bytes_vs_gifski=gif["bytes"],
        recipe_worst_clip_bytes_vs_gifski=gif["worst_bytes"],
        recipe_lowest_clip_ssim_minus_gifski=gif["lowest_ssim"],
        recipe_clean_ssim_minus_gifski=gif["ssim_clean"],
    )
    outcome.details["recipe"] = {
        "repeat": plan.repeat,
        "gifski": str(gifski) if gifski else how,
        "cpu_vs_twopass": versus["cpu"],
        "cpu_vs_gifski": gif["cpu"],
        "clips": [clip_detail(r) for r in results],
    }


def clip_detail(result: ClipResult) -> dict[str, Any]:
    """One clip's row for the JSON details."""
    return {
        "clip": result.clip.name,
        "source": result.clip.label,
        "gif": f"{result.window.width}x{result.window.height} {result.window.fps:g}fps "
        f"{result.window.end - result.window.start:g}s",
        "probe_s": round(result.probe_s, 3),
        **{
            name: {
                "wall_s": round(m.wall, 3),
                "cpu_s": round(m.cpu, 3),
                "bytes": m.size_bytes,
                "ssim": round(m.ssim, 5),
                "ssim_clean": None if m.ssim_clean is None else round(m.ssim_clean, 5),
            }
            for name, m in result.made.items()
        },
    }


def run_system(
    plan: Plan,
    clips: list[Clip],
    small: Clip,
    longest: tuple[Clip, Clip],
    workdir: Path,
    log: Log,
    outcome: Outcome,
) -> None:
    """The whole stack: memory (longest portrait, then 1080p60 at heavy options), latency, cache,
    throughput, then a burst of users."""
    with stack.running(workdir, plan.workers) as live:
        log(f"stack up: bot + {plan.workers} workers, logs in {workdir / 'logs'}")
        system.warm_up(live, small)
        measure_memory(live, longest[0], log, outcome)
        measure_heavy_memory(live, longest[1], log, outcome)
        measure_latency(live, clips[0], plan.latency_runs, workdir, log, outcome)
        measure_cache(live, small, plan.cache_runs, log, outcome)
        cost.measure(live, clips, small, log, outcome)
        measure_efficiency(live, clips, plan.system_videos, workdir, log, outcome)
        measure_burst(live, small, plan.burst_users, log, outcome)
        outcome.details.setdefault("system", {})["telegram_429s"] = live.api.global_429s  # over 30/s
    outcome.details.setdefault("system", {})["workers"] = plan.workers


def measure_memory(live: LiveStack, longest: Clip, log: Log, outcome: Outcome) -> None:
    """worker_idle_rss_mb and worker_peak_rss_mb."""
    mem = system.memory(live, longest)
    idle = f"idle {mem.idle_mb:.0f} MB (a worker process alone {mem.idle_process_mb:.0f} MB)"
    log(f"memory: {idle}, peak {mem.peak_mb:.0f} MB on {longest.label}")
    outcome.figures.update(worker_idle_rss_mb=mem.idle_mb, worker_peak_rss_mb=mem.peak_mb)
    details = {
        "clip": longest.label,
        "samples": mem.samples,
        "gif_bytes": mem.gif_bytes,
        "idle_worker_process_mb": round(mem.idle_process_mb, 1),
    }
    outcome.details.setdefault("system", {})["memory"] = details


# /settings choices for the memory figures on the 1080p60 clip: reverse, 2x and the top frame rate;
# then the choices that keep the most frames (0.5x samples 40 of the 60 source frames a second).
HEAVY_CHOICES = {"reverse": "1", "speed": "2", "fps": "20"}
MOST_FRAMES_CHOICES = {"reverse": "1", "speed": "0.5", "fps": "20", "width": "640"}


def measure_heavy_memory(live: LiveStack, clip: Clip, log: Log, outcome: Outcome) -> None:
    """worker_peak_rss_hd60_mb and worker_peak_rss_most_frames_mb."""
    details = {}
    for key, choices in (
        ("worker_peak_rss_hd60_mb", HEAVY_CHOICES),
        ("worker_peak_rss_most_frames_mb", MOST_FRAMES_CHOICES),
    ):
        mem = system.memory(live, clip, choices)
        log(f"memory: peak {mem.peak_mb:.0f} MB on {clip.label} 60 fps with {choices}")
        outcome.figures[key] = mem.peak_mb
        details[key] = {"clip": f"{clip.label} 60 fps", "choices": choices, "gif_bytes": mem.gif_bytes}
    outcome.details.setdefault("system", {})["heavy_memory"] = details


def measure_latency(
    live: LiveStack, clip: Clip, runs: int, workdir: Path, log: Log, outcome: Outcome
) -> None:
    """latency_overhead_s: the median of `runs`."""
    found = system.latency(live, clip, runs, workdir)
    log(f"latency ({clip.name}): overhead " + ", ".join(f"{r.overhead_s:.2f}" for r in found) + " s")
    outcome.figures["latency_overhead_s"] = statistics.median(r.overhead_s for r in found)
    outcome.details.setdefault("system", {})["latency"] = {
        "clip": f"{clip.name} {clip.label}",
        "runs": [{key: round(value, 4) for key, value in asdict(r).items()} for r in found],
    }


def measure_cache(live: LiveStack, clip: Clip, runs: int, log: Log, outcome: Outcome) -> None:
    """cache_repeat_s: the median of `runs` repeats."""
    repeats = system.cache_repeats(live, clip, runs)
    log("cache repeats: " + ", ".join(f"{r * 1000:.0f} ms" for r in repeats))
    outcome.figures["cache_repeat_s"] = statistics.median(repeats)
    outcome.details.setdefault("system", {})["cache"] = {"runs_s": [round(r, 4) for r in repeats]}


def measure_efficiency(
    live: LiveStack, clips: list[Clip], videos: int, workdir: Path, log: Log, outcome: Outcome
) -> None:
    """system_efficiency."""
    eff = system.efficiency(live, clips, videos, workdir)
    direct = f"direct {eff.direct_before_s:.1f} s before and {eff.direct_after_s:.1f} s after"
    log(f"efficiency: {eff.videos} videos, {direct}, system {eff.system_s:.1f} s")
    outcome.figures["system_efficiency"] = eff.ratio
    outcome.details.setdefault("system", {})["efficiency"] = asdict(eff)


def measure_burst(live: LiveStack, clip: Clip, users: int, log: Log, outcome: Outcome) -> None:
    """burst100_ack_p99_s and burst100_total_s."""
    burst = system.burst(live, clip, users)
    log(f"burst: {users} users, ack p99 {burst.ack_p99_s:.2f} s, last GIF after {burst.total_s:.1f} s")
    outcome.figures.update(burst100_ack_p99_s=burst.ack_p99_s, burst100_total_s=burst.total_s)
    outcome.details.setdefault("system", {})["burst"] = {
        "users": users,
        "clip": clip.label,
        "ack_median_s": round(statistics.median(burst.acks_s), 4),
        "ack_max_s": round(max(burst.acks_s), 4),
    }
