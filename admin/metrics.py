"""GET /metrics in the Prometheus text format (0.0.4): queue, workers, outcomes, latency, users."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable

from redis import Redis

from admin import overview
from core import keys, stats
from core.models import Outcome
from core.settings import Settings

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OUTCOMES = tuple(o.value for o in Outcome)

Sample = tuple[dict[str, str], float]


def render(redis: Redis, settings: Settings, now: float | None = None) -> str:
    """Every gifbot metric, read from Redis now."""
    now = time.time() if now is None else now
    queue = overview.queue_counts(redis, settings)
    blocks = queue_metrics(queue, overview.workers(redis))
    blocks += usage_metrics(
        stats.totals(redis), overview.today(redis, now), overview.totals(overview.last_day(redis, now))
    )
    blocks.append(metric("gifbot_users", "gauge", "Users the bot has seen.", [({}, redis.zcard(keys.USERS))]))
    blocks.append(
        metric("gifbot_banned_users", "gauge", "Users an admin banned.", [({}, redis.scard(keys.BANNED))])
    )
    return "".join(blocks)


def queue_metrics(queue: overview.QueueCounts, workers: list[overview.WorkerInfo]) -> list[str]:
    """The queue's and the workers' gauges."""
    q = {"queue": queue.name}
    states = Counter(w.state for w in workers)
    return [
        metric("gifbot_queue_depth", "gauge", "Jobs waiting in the RQ queue.", [(q, queue.queued)]),
        metric("gifbot_jobs_running", "gauge", "Jobs a worker is running now.", [(q, queue.started)]),
        metric("gifbot_jobs_failed_registry", "gauge", "Jobs in RQ's failed registry.", [(q, queue.failed)]),
        metric("gifbot_jobs_scheduled", "gauge", "Jobs waiting for a retry.", [(q, queue.scheduled)]),
        metric("gifbot_workers", "gauge", "Registered RQ workers on every box.", [({}, len(workers))]),
        metric(
            "gifbot_workers_by_state",
            "gauge",
            "Registered RQ workers by state.",
            [({"state": s}, n) for s, n in sorted(states.items())],
        ),
    ]


def usage_metrics(total: dict[str, int], today: overview.Totals, day: overview.Totals) -> list[str]:
    """All-time counters, today's outcomes and the last day's latency percentiles."""
    latency = (("0.5", day.p50), ("0.95", day.p95))
    return [
        metric("gifbot_videos_total", "counter", "Videos users sent, all time.", [({}, total["videos"])]),
        metric(
            "gifbot_jobs_total",
            "counter",
            "Videos by how they ended, all time.",
            [({"outcome": o}, total[o]) for o in OUTCOMES],
        ),
        metric("gifbot_input_bytes_total", "counter", "Bytes of video received.", [({}, total["bytes_in"])]),
        metric("gifbot_output_bytes_total", "counter", "Bytes of GIF delivered.", [({}, total["bytes_out"])]),
        metric(
            "gifbot_jobs_today",
            "gauge",
            "Videos by how they ended since 00:00 UTC.",
            [({"outcome": o}, getattr(today, o)) for o in OUTCOMES],
        ),
        metric(
            "gifbot_latency_seconds",
            "gauge",
            "End-to-end seconds from video received to GIF delivered, over the last 24 h.",
            [({"quantile": p}, v) for p, v in latency if v is not None],
        ),
    ]


def metric(name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> str:
    """One metric family: HELP, TYPE and its samples."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{_labels(labels)} {_value(value)}" for labels, value in samples]
    return "\n".join(lines) + "\n"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_label_value(v)}"' for k, v in labels.items()) + "}"


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
