"""What one job costs, in the units an operator plans with, and its fixed overhead beyond ffmpeg.

- CPU: every worker tree (worker, horses, ffprobe, ffmpeg: a reaped child's CPU counts in its
  parent's cutime/cstime), the bot and redis-server, from /proc and INFO cpu.
- Redis: commands (INFO commandstats) and network bytes per job, less what the idle stack does
  in the same time (heartbeats, leases, long polls); and the bytes a job leaves behind, by TTL.
- Bot API: calls per job from the fake API's log (downloads counted apart).
The run waits on the fake API's log only, so the benchmark adds no Redis commands of its own.
"""

from __future__ import annotations

import itertools
import re
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.corpus import Clip
from bench.stack import LiveStack, Sent
from core.settings import Settings
from tests.fakes.telegram_api import FILE_DOWNLOAD, Call

CLK_TCK = 100  # os.sysconf("SC_CLK_TCK") on Linux
IDLE_S = 3.0
SETTLE_S = 1.5  # after the last status delete: the slot release and stats writes
GIF_TIMEOUT_S = 900
TTL_BUCKETS_DAYS = (1, 3, 7, 30)  # RQ results 1 d, markers 3-7 d, job records 30 d


@dataclass(frozen=True)
class Counters:
    """Cumulative counters of the stack at one moment."""

    at: float
    cpu_s: float
    redis_commands: int
    redis_net_bytes: int


@dataclass(frozen=True)
class JobCost:
    """Per job, with the idle stack's own activity taken out."""

    videos: int
    source_s: float  # seconds of source video converted (at most MAX_SECONDS each)
    cpu_s_per_video_s: float
    cpu_ms_beyond_ffmpeg: float  # CPU of the whole stack per job, less its ffmpeg run's
    redis_commands: float
    redis_net_bytes: float
    api_calls: float
    api_calls_by_method: dict[str, float]
    retained_bytes_by_ttl_days: dict[str, float]


def cpu_of(pid: int) -> float:
    """utime + stime + cutime + cstime of a process, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / CLK_TCK


def snapshot(live: LiveStack) -> Counters:
    """The stack's CPU so far, and Redis's command and byte counters."""
    redis = live.redis
    cpu = sum(cpu_of(pid) for pid in [*live.worker_pids(), *live.bot_pids()])
    info = redis.info("cpu")
    cpu += float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    stats = redis.info("stats")
    commands = sum(int(v["calls"]) for v in redis.info("commandstats").values())
    net = int(stats["total_net_input_bytes"]) + int(stats["total_net_output_bytes"])
    return Counters(time.monotonic(), cpu, commands, net)


class Meter:
    """The stack's counters over a stretch of work, less what the idle stack does meanwhile."""

    def __init__(self, live: LiveStack) -> None:
        self.live = live
        time.sleep(SETTLE_S)
        quiet = snapshot(live)
        time.sleep(IDLE_S)
        self.start = snapshot(live)
        seconds = self.start.at - quiet.at
        self.idle_rate = [(b - a) / seconds for a, b in zip(_values(quiet), _values(self.start), strict=True)]

    def per_job(self, jobs: int) -> list[float]:
        """CPU s, Redis commands and Redis network bytes per job since the start (or last call)."""
        time.sleep(SETTLE_S)
        end = snapshot(self.live)
        span = end.at - self.start.at
        ends = zip(_values(self.start), _values(end), self.idle_rate, strict=True)
        found = [(b - a - rate * span) / jobs for a, b, rate in ends]
        self.start = end
        return found


def job_cost(live: LiveStack, meter: Meter, clips: list[Clip], videos: int) -> JobCost:
    """Send `videos` clips (cycling through `clips`) and measure what they cost per job."""
    before = retained(live)  # thousands of commands: before the meter starts
    meter.start = snapshot(live)
    calls_before = len(live.api.calls(ok_only=False))
    chosen = [clips[i % len(clips)] for i in range(videos)]
    sent = live.send([c.path.read_bytes() for c in chosen])
    wait_finished(live, sent)
    cpu, commands, net = meter.per_job(videos)
    calls = [c for c in live.api.calls(ok_only=False)[calls_before:] if c.method != "getUpdates"]
    methods: dict[str, float] = {}
    for call in calls:
        methods[call.method] = methods.get(call.method, 0) + 1 / videos
    max_s = Settings().max_seconds
    source = sum(min(c.seconds, max_s) for c in chosen)
    after = retained(live)
    left = {k: round((after.get(k, 0) - before.get(k, 0)) / videos) for k in sorted(after)}
    ffmpeg = ffmpeg_runs(live.stack.logdir)
    ffmpeg_cpu = statistics.mean(ffmpeg[job_id(s)][1] for s in sent)
    return JobCost(
        videos,
        source,
        cpu * videos / source,
        (cpu - ffmpeg_cpu) * 1000,
        commands,
        net,
        sum(v for k, v in methods.items() if k != FILE_DOWNLOAD),
        {k: round(v, 2) for k, v in sorted(methods.items())},
        left,
    )


def job_id(sent: Sent) -> str:
    """The RQ job id of a pushed video (core.models.job_id_for)."""
    return f"gif_{sent.chat}_{sent.message_id}"


def _values(c: Counters) -> tuple[float, float, float]:
    return (c.cpu_s, float(c.redis_commands), float(c.redis_net_bytes))


def wait_finished(live: LiveStack, sent: list[Sent]) -> None:
    """Wait until every chat got its GIF and its status message was deleted (the job's last call)."""
    chats = {str(s.chat) for s in sent}
    live.wait_gifs(sent, GIF_TIMEOUT_S)
    live.api.wait_for(
        lambda: chats <= {c.chat_id for c in live.api.calls("deleteMessage")},
        timeout=GIF_TIMEOUT_S,
        message="every status message deleted",
    )


def retained(live: LiveStack) -> dict[str, int]:
    """Bytes of every key (MEMORY USAGE), summed by TTL bucket: '<=1d', '<=3d', ... or 'none'."""
    redis, found = live.redis, {}
    for key in redis.scan_iter(count=1000):
        ttl = redis.ttl(key)
        size = redis.memory_usage(key, samples=0) or 0
        within = (f"<={d}d" for d in TTL_BUCKETS_DAYS if ttl <= d * 86400)
        bucket = "none" if ttl < 0 else next(within, ">30d")
        found[bucket] = found.get(bucket, 0) + size
    return found


# Where a job's time beyond ffmpeg goes, read from the fake API's log (steps add up to the overhead).
STEPS = (
    "bot",  # update served -> status reply answered (the bot stores, checks, replies)
    "queue",  # -> getFile asked (enqueue, RQ dequeue, work horse fork, job set-up)
    "download",  # -> file download answered (getFile, the file's bytes)
    "probe_and_claim",  # -> sendAnimation asked, less ffmpeg's wall (ffprobe, job end, send claim)
    "upload",  # -> sendAnimation answered
)


@dataclass(frozen=True)
class Overhead:
    """Jobs on an idle stack: served-to-GIF, ffmpeg's own wall, and the CPU left beyond ffmpeg."""

    served_to_gif_s: list[float]
    ffmpeg_s: list[float]
    cpu_ms_beyond_ffmpeg: float
    steps_ms: list[dict[str, float]] = field(default_factory=list)  # per job, by STEPS

    @property
    def median_steps_ms(self) -> dict[str, float]:
        """Each step's median over the jobs."""
        return {k: statistics.median(s[k] for s in self.steps_ms) for k in STEPS} if self.steps_ms else {}

    @property
    def overhead_ms(self) -> list[float]:
        return [(t - f) * 1000 for t, f in zip(self.served_to_gif_s, self.ffmpeg_s, strict=True)]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.overhead_ms)


_CONVERTED = re.compile(r"ts=(\S+) .*job=(\S+) converted .* \(ffmpeg ([\d.]+)s, ([\d.]+)s CPU\)")


def ffmpeg_runs(logdir: Path) -> dict[str, tuple[float, float]]:
    """Each job's ffmpeg wall and CPU seconds, from the workers' log lines.

    A reused --workdir keeps earlier runs' logs, with the same job ids (user and message ids start
    over each run): the latest line of a job wins, whichever worker's log holds it."""
    latest: dict[str, tuple[str, float, float]] = {}
    for log in logdir.glob("worker-*.log"):
        for match in _CONVERTED.finditer(log.read_text(errors="replace")):
            ts, job, wall, cpu = match.groups()
            if job not in latest or ts >= latest[job][0]:  # ISO timestamps sort as text
                latest[job] = (ts, float(wall), float(cpu))
    return {job: (wall, cpu) for job, (_ts, wall, cpu) in latest.items()}


def fixed_overhead(live: LiveStack, meter: Meter, clip: Clip, runs: int) -> Overhead:
    """`runs` times, one at a time: the clip from a new user, served-to-GIF minus ffmpeg's wall.

    A new chat takes the ack and the GIF back to back (its burst of two), and the status steps in
    between are optional, so no per-chat pacing wait is in it; the global budget is idle. Each
    video goes OVERHEAD_SETTLE_S after the last one ended, so no job's tail (the worker starting
    its next spare ffprobe runs, RQ's bookkeeping, the bot's) runs during the next one.
    """
    data, served, sent_all, gifs = clip.path.read_bytes(), [], [], []
    for _ in range(runs):
        [sent] = live.send([data])
        [gif] = live.wait_gifs([sent], GIF_TIMEOUT_S)
        wait_finished(live, [sent])
        time.sleep(OVERHEAD_SETTLE_S)
        served.append(gif.at - live.served_at(sent))
        sent_all.append(sent)
        gifs.append(gif)
    cpu = meter.per_job(runs)[0]
    ffmpeg = [ffmpeg_runs(live.stack.logdir)[job_id(s)] for s in sent_all]
    beyond = (cpu - statistics.mean(f[1] for f in ffmpeg)) * 1000
    steps = [steps_of(live, s, g, f[0]) for s, g, f in zip(sent_all, gifs, ffmpeg, strict=True)]
    return Overhead(served, [f[0] for f in ffmpeg], beyond, steps)


def steps_of(live: LiveStack, sent: Sent, gif: Call, ffmpeg_s: float) -> dict[str, float]:
    """One job's STEPS in ms, from the fake API's log (they add up to its overhead)."""
    served = live.served_at(sent)
    ack = live.calls_after(served, "sendMessage", chat_id=sent.chat)[0].at
    asked = next(
        c for c in live.calls_after(served, "getFile") if c.params.get("file_id") == sent.record.file_id
    )
    path = sent.record.file_path
    got = next(c for c in live.calls_after(served, FILE_DOWNLOAD) if c.params.get("file_path") == path)
    marks = (served, ack, asked.started, got.at, gif.started, gif.at)
    spans = [b - a for a, b in itertools.pairwise(marks)]
    spans[3] -= ffmpeg_s  # download answered -> sendAnimation asked holds the conversion
    return {k: round(span * 1000, 1) for k, span in zip(STEPS, spans, strict=True)}


OVERHEAD_RUNS = 10
OVERHEAD_SETTLE_S = 1.0  # the stack's quiet time between two of those videos
COST_VIDEOS = 10


def measure(live: LiveStack, clips: list[Clip], small: Clip, log: Any, outcome: Any) -> None:
    """job_fixed_overhead_ms (median over OVERHEAD_RUNS jobs) and the cost of one job."""
    meter = Meter(live)
    over = fixed_overhead(live, meter, small, OVERHEAD_RUNS)
    log_overhead(over, log)
    job = job_cost(live, meter, clips, COST_VIDEOS)
    log(
        f"one job: {job.cpu_s_per_video_s:.2f} CPU s per video s, {job.redis_commands:.0f} Redis commands, "
        f"{job.redis_net_bytes / 1000:.1f} kB over the wire, {job.api_calls:.1f} Bot API calls"
    )
    outcome.figures.update(
        job_fixed_overhead_ms=over.median_ms,
        cpu_s_per_video_s=job.cpu_s_per_video_s,
        redis_commands_per_job=job.redis_commands,
        redis_bytes_per_job=sum(job.retained_bytes_by_ttl_days.values()),
        bot_api_calls_per_job=job.api_calls,
    )
    outcome.details.setdefault("system", {})["cost"] = {
        "overhead_clip": small.label,
        "served_to_gif_s": [round(s, 4) for s in over.served_to_gif_s],
        "ffmpeg_s": over.ffmpeg_s,
        "overhead_cpu_ms": round(over.cpu_ms_beyond_ffmpeg, 1),
        "overhead_steps_ms": over.median_steps_ms,
        "job": asdict(job),
    }


def log_overhead(over: Overhead, log: Any) -> None:
    """The fixed overhead of each run, its CPU and the median of each step."""
    steps = ", ".join(f"{k} {v:.0f}" for k, v in over.median_steps_ms.items())
    log(
        f"fixed overhead: {', '.join(f'{ms:.0f}' for ms in over.overhead_ms)} ms beyond ffmpeg "
        f"(CPU {over.cpu_ms_beyond_ffmpeg:.0f} ms a job); median steps, ms: {steps}"
    )
