"""The benchmark's figures: their targets, the table printed at the end, and the JSON file."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Figures = Mapping[str, float | None]


@dataclass(frozen=True)
class Figure:
    """One headline number: its JSON key, what it means, and its target (None: reported only)."""

    key: str
    meaning: str
    op: str | None = None  # ">=" or "<="
    target: float | None = None
    digits: int = 2


_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}

FIGURES = (
    Figure("recipe_speed_vs_twopass", "two-pass wall / product wall, same clips", ">=", 1.5),
    Figure("recipe_ssim_minus_twopass", "mean SSIM, product minus two-pass", ">=", -0.005, 4),
    Figure("recipe_bytes_vs_twopass", "GIF bytes, product / two-pass", "<=", 0.9),
    Figure("recipe_speed_vs_gifski", "gifski wall (PNG frames + gifski) / product wall", ">=", 3),
    Figure("recipe_ssim_minus_gifski", "mean SSIM, product minus gifski", ">=", -0.005, 4),
    Figure("recipe_bytes_vs_gifski", "GIF bytes, product / gifski (all clips)", "<=", 0.8),
    Figure("recipe_worst_clip_bytes_vs_gifski", "GIF bytes, product / gifski, worst clip", "<=", 1.1),
    Figure("recipe_lowest_clip_ssim_minus_gifski", "SSIM, product minus gifski, worst clip", ">=", -0.02, 4),
    Figure("recipe_clean_ssim_minus_gifski", "mean SSIM against the clean picture (grainy clips)", digits=4),
    Figure("system_efficiency", "direct wall (2 at a time) / whole-stack wall", ">=", 0.9),
    Figure("latency_overhead_s", "idle stack: served-to-GIF minus direct conversion (median)", "<=", 0.5),
    Figure("burst100_ack_p99_s", "100 users at once (API limit 30/s): served-to-acked, p99", "<=", 4.5),
    Figure("burst100_total_s", "100 users at once: push to last GIF", digits=1),
    Figure("job_fixed_overhead_ms", "small clip: served-to-GIF minus ffmpeg's wall (median)", "<=", 50, 0),
    Figure("cpu_s_per_video_s", "CPU s (workers, bot, redis) per second of video converted", digits=2),
    Figure("redis_commands_per_job", "Redis commands per video, idle traffic taken out", digits=0),
    Figure("redis_bytes_per_job", "Redis memory a video leaves behind (until its keys expire)", digits=0),
    Figure("bot_api_calls_per_job", "Bot API calls per video (file downloads apart)", digits=1),
    Figure("cache_repeat_s", "repeat of a converted video: served-to-GIF (median)", "<=", 0.5, 3),
    Figure("worker_idle_rss_mb", "idle worker tree (one worker also runs RQ's scheduler)", digits=0),
    Figure("worker_peak_rss_mb", "worker tree (horse, ffprobe, ffmpeg) on the longest clip", "<=", 500, 0),
    Figure(
        "worker_peak_rss_hd60_mb", "worker tree, MAX_SECONDS of 1080p60 reversed at 2x, 20 fps", "<=", 500, 0
    ),
    Figure(
        "worker_peak_rss_most_frames_mb",
        "worker tree, MAX_SECONDS of 1080p60 reversed at 0.5x, 20 fps, 640 px",
        digits=0,
    ),
    Figure("redis_used_memory_mb", "Redis used_memory after the run (500 videos, 100 users)", "<=", 25),
    Figure("redis_30day_mb", "Redis used_memory on day 30 of that run daily, from the TTLs", "<=", 25),
    Figure("redis_kb_per_video", "Redis used_memory per video (same users)", digits=1),
    Figure("redis_kb_per_user", "Redis used_memory per new user, less their video", digits=1),
)
GIFSKI_KEYS = (
    "recipe_speed_vs_gifski",
    "recipe_ssim_minus_gifski",
    "recipe_bytes_vs_gifski",
    "recipe_worst_clip_bytes_vs_gifski",
    "recipe_lowest_clip_ssim_minus_gifski",
    "recipe_clean_ssim_minus_gifski",
)


def holds(figure: Figure, value: float | None) -> bool | None:
    """True/False if the figure has a target and a value; None if either is missing."""
    if figure.op is None or figure.target is None or value is None:
        return None
    return _OPS[figure.op](value, figure.target)


def target_text(figure: Figure) -> str:
    """e.g. '>= 1.5', or '' for a figure reported without a target."""
    return "" if figure.op is None else f"{figure.op} {figure.target:g}"


def verdict_text(figure: Figure, value: float | None) -> str:
    """'holds', 'MISSED', 'not run', or '' (no target)."""
    if value is None:
        return "not run"
    return {True: "holds", False: "MISSED", None: ""}[holds(figure, value)]


def value_text(figure: Figure, value: float | None) -> str:
    """The value rounded to the figure's digits, signed for differences."""
    if value is None:
        return "-"
    signed = "+" if figure.key.startswith("recipe_ssim") else ""
    return f"{value:{signed}.{figure.digits}f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table with columns padded to line up in a terminal too."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def figures_table(values: Figures) -> str:
    """The headline table: figure, value, target, verdict, meaning."""
    rows = [
        [
            f.key,
            value_text(f, values.get(f.key)),
            target_text(f),
            verdict_text(f, values.get(f.key)),
            f.meaning,
        ]
        for f in FIGURES
    ]
    return markdown_table(["figure", "value", "target", "", "what it is"], rows)


def missed(values: Figures) -> list[str]:
    """Keys of figures whose target is not met (a figure that did not run is not a miss)."""
    return [f.key for f in FIGURES if holds(f, values.get(f.key)) is False]


def document(values: Figures, machine: Mapping[str, Any], details: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON document: every figure under its own key, then targets, machine and details."""
    targets = {
        f.key: {"op": f.op, "target": f.target, "holds": holds(f, values.get(f.key))}
        for f in FIGURES
        if f.op is not None
    }
    return {
        **{f.key: values.get(f.key) for f in FIGURES},
        "targets": targets,
        "machine": dict(machine),
        "details": dict(details),
    }


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    """Write the document as indented JSON (atomically: a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=False, default=_plain) + "\n")
    tmp.replace(path)


def _plain(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
