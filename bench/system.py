"""The product as users meet it: throughput against bare conversions, latency, a burst, the cache, memory.

Times come from the fake Bot API's call log (`Call.at`, time.monotonic() in this process): an
update is "served" when the getUpdates answer carrying it went out, acknowledged when the status
message arrived, delivered when the GIF upload arrived.
"""

from __future__ import annotations

import math
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.corpus import Clip
from bench.memory import MB, TreeSampler, rss_bytes
from bench.recipe import product_options
from bench.stack import LiveStack
from jobs import fit

PARALLEL = 2  # conversions at once in the direct baseline: one per worker
GIF_TIMEOUT_S = 900
IDLE_SAMPLE_S = 1.0


@dataclass(frozen=True)
class Efficiency:
    """N conversions through the whole stack, and done directly just before and just after it."""

    videos: int
    direct_before_s: float
    system_s: float
    direct_after_s: float

    @property
    def direct_s(self) -> float:
        """The direct wall, averaged over both sides of the stack run (cancels a drifting load)."""
        return (self.direct_before_s + self.direct_after_s) / 2

    @property
    def ratio(self) -> float:
        return self.direct_s / self.system_s


@dataclass(frozen=True)
class Latency:
    """One video on an idle stack: served-to-GIF time, and the conversion done directly around it."""

    direct_before_s: float
    delivered_s: float
    direct_after_s: float
    ack_s: float

    @property
    def direct_s(self) -> float:
        return (self.direct_before_s + self.direct_after_s) / 2

    @property
    def overhead_s(self) -> float:
        return self.delivered_s - self.direct_s


@dataclass(frozen=True)
class Burst:
    """Many users at once: each one's served-to-acknowledged time, and push to last GIF."""

    acks_s: list[float]
    total_s: float

    @property
    def ack_p99_s(self) -> float:
        return percentile(self.acks_s, 99)


@dataclass(frozen=True)
class Memory:
    """A worker's process tree: idle, and its peak while converting the longest clip accepted."""

    idle_mb: float  # the larger idle tree (one worker also runs RQ's scheduler as a child)
    idle_process_mb: float  # a worker process alone
    peak_mb: float
    samples: int
    gif_bytes: int


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest value with at least pct % of values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def convert_direct(clip: Path, workdir: Path) -> float:
    """Convert one clip exactly as a worker does (ffprobe checks, then ffmpeg) and return the wall."""
    options, limits = product_options()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        started = time.monotonic()
        fit.convert(clip, Path(tmp) / "out.gif", options, limits)
        return time.monotonic() - started


def direct_wall(clips: list[Path], workdir: Path) -> float:
    """Wall time of converting every clip directly, PARALLEL at a time."""
    started = time.monotonic()
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(lambda clip: convert_direct(clip, workdir), clips))
    return time.monotonic() - started


def warm_up(live: LiveStack, clip: Clip) -> None:
    """One video through each worker, so no measured job pays for a first fork or a cold cache."""
    sent = live.send([clip.path.read_bytes()] * len(live.workers))
    live.wait_gifs(sent, GIF_TIMEOUT_S)
    live.wait_done(sent)


def efficiency(live: LiveStack, clips: list[Clip], videos: int, workdir: Path) -> Efficiency:
    """`videos` conversions (cycling through the corpus): directly, through the stack, directly."""
    chosen = [clips[i % len(clips)].path for i in range(videos)]
    before = direct_wall(chosen, workdir)
    sent = live.send([path.read_bytes() for path in chosen])
    gifs = live.wait_gifs(sent, GIF_TIMEOUT_S)
    system = max(gif.at for gif in gifs) - sent[0].pushed_at
    live.wait_done(sent)
    return Efficiency(videos, before, system, direct_wall(chosen, workdir))


def latency(live: LiveStack, clip: Clip, runs: int, workdir: Path) -> list[Latency]:
    """`runs` times: convert `clip` directly, send it through the idle stack, convert it again."""
    data, found = clip.path.read_bytes(), []
    for _ in range(runs):
        before = convert_direct(clip.path, workdir)
        [sent] = live.send([data])
        [gif] = live.wait_gifs([sent], GIF_TIMEOUT_S)
        live.wait_done([sent])
        served = live.served_at(sent)
        after = convert_direct(clip.path, workdir)
        found.append(Latency(before, gif.at - served, after, live.ack_at(sent) - served))
    return found


def cache_repeats(live: LiveStack, clip: Clip, runs: int) -> list[float]:
    """Convert `clip` once, then send the same file `runs` times from new users: served-to-GIF each."""
    [first] = live.send([clip.path.read_bytes()])
    live.wait_gifs([first], GIF_TIMEOUT_S)
    live.wait_done([first])
    found = []
    for _ in range(runs):
        again = live.resend(first)
        [gif] = live.wait_gifs([again], 60)
        if gif.files:
            raise RuntimeError("a repeat was uploaded again instead of answered from the cache")
        found.append(gif.at - live.served_at(again))
    return found


def burst(live: LiveStack, clip: Clip, users: int) -> Burst:
    """`users` users send `clip` in one getUpdates batch: acknowledgement times and total time."""
    sent = live.send([clip.path.read_bytes()] * users)
    live.wait_acks(sent, GIF_TIMEOUT_S)
    acks = [live.ack_at(s) - live.served_at(s) for s in sent]
    gifs = live.wait_gifs(sent, GIF_TIMEOUT_S)
    total = max(gif.at for gif in gifs) - sent[0].pushed_at
    live.wait_done(sent, timeout=120)
    return Burst(acks, total)


def memory(live: LiveStack, clip: Clip, choices: dict[str, str] | None = None) -> Memory:
    """Sample every worker's tree while idle, then while one converts `clip` (the longest accepted)
    for a user whose /settings are `choices`."""
    with TreeSampler(live.worker_pids()) as idle:
        time.sleep(IDLE_SAMPLE_S)
    alone = max(rss_bytes(pid) for pid in live.worker_pids()) / MB
    with TreeSampler(live.worker_pids()) as busy:
        [sent] = live.send([clip.path.read_bytes()], choices)
        [gif] = live.wait_gifs([sent], GIF_TIMEOUT_S)
        live.wait_done([sent])
    size = len(next(iter(gif.files.values()), b""))
    return Memory(idle.median_mb(), alone, busy.peak_mb(), busy.count(), size)
